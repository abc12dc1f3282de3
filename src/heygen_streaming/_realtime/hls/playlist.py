"""HLS playlists (RFC 8216) as this SDK reads them: media and master playlists.

Only what live playback needs: target duration, media sequence, ``#EXT-X-MAP`` init
section, segments with their durations, ``#EXT-X-ENDLIST``, and variants of a master
playlist. Encrypted (``#EXT-X-KEY``) and byte-range segments are refused with `HlsError`
rather than decoded as garbage; other tags (LL-HLS parts, program dates) are ignored.
Relative URIs are resolved against the playlist's URL (its query, e.g. a token, is not
carried over: servers put it in the URIs they list).

A playlist comes from a server the SDK does not trust: it is bounded (`MAX_LINES` lines,
refused before anything is parsed), and every value the reader computes with is checked
(integers are decimal integers, durations finite and sane): anything else is an `HlsError`
naming the tag, never an ``OverflowError`` or a NaN that reaches a sleep.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin

from ..._errors import HlsError

__all__ = ["MAX_DURATION", "MAX_LINES", "HlsError", "Playlist", "Segment", "parse_playlist"]


@dataclass(frozen=True)
class Segment:
    """One media segment: its media sequence number, absolute URI and duration."""

    sequence: int
    uri: str
    duration: float


@dataclass
class Playlist:
    """A parsed playlist: a master playlist has ``variants``, a media playlist ``segments``."""

    target_duration: float | None = None
    media_sequence: int = 0
    init_uri: str | None = None
    ended: bool = False
    segments: list[Segment] = field(default_factory=list)
    variants: list[tuple[int, str]] = field(default_factory=list)

    @property
    def container(self) -> str | None:
        """``"mp4"`` (fMP4, with an init section), ``"mpegts"``, or None when unknown."""
        if self.init_uri is not None:
            return "mp4"
        if self.segments:
            path = self.segments[0].uri.split("?", 1)[0].lower()
            if path.endswith((".m4s", ".mp4", ".m4v", ".cmfv")):
                return "mp4"
            if path.endswith(".ts"):
                return "mpegts"
        return None


def _attributes(text: str) -> dict[str, str]:
    """``KEY=VALUE,KEY="quoted, value"`` as a dict (quotes removed)."""
    attrs: dict[str, str] = {}
    key, value, quoted, in_value = "", "", False, False
    for char in text + ",":
        if in_value:
            if char == '"':
                quoted = not quoted
            elif char == "," and not quoted:
                attrs[key.strip().upper()] = value.strip()
                key, value, in_value = "", "", False
            else:
                value += char
        elif char == "=":
            in_value = True
        elif char != ",":
            key += char
    return attrs


MAX_LINES = 30_000
"""Most lines a playlist may have: about 10,000 segments (a one-hour stream of 1 s segments
with its tags is 11,000 lines); beyond, the playlist is refused before it is parsed."""

MAX_DURATION = 3600.0
"""Longest target or segment duration believed, in seconds (a stream's hour)."""

_MAX_SEQUENCE = 2**63 - 1


def parse_playlist(text: str, base_url: str) -> Playlist:
    """Parse an M3U8 playlist; relative URIs are resolved against ``base_url``.

    Raises `HlsError` for anything that is not a playlist this reader can use: no
    ``#EXTM3U``, more than `MAX_LINES` lines, a malformed number, encryption, byte ranges.
    """
    text = text.lstrip("\ufeff")
    if not text.startswith("#EXTM3U"):
        raise HlsError("not an HLS playlist (no #EXTM3U header)")
    if text.count("\n") > MAX_LINES or ("\n" not in text and text.count("\r") > MAX_LINES):
        raise HlsError(f"HLS playlist has more than {MAX_LINES} lines: refused")
    lines = [line.strip() for line in text.splitlines()]
    if lines[0] != "#EXTM3U":
        raise HlsError("not an HLS playlist (no #EXTM3U header)")
    join = _joiner(base_url)
    playlist = Playlist()
    duration: float | None = None
    bandwidth: int | None = None
    sequence: int | None = None
    for line in lines[1:]:
        if not line:
            continue
        if line.startswith("#"):
            tag, _, value = line.partition(":")
            if tag == "#EXT-X-TARGETDURATION":
                playlist.target_duration = _duration(value, tag)
            elif tag == "#EXT-X-MEDIA-SEQUENCE":
                playlist.media_sequence = _integer(value, tag, _MAX_SEQUENCE)
            elif tag == "#EXT-X-MAP":
                uri = _attributes(value).get("URI")
                if uri:
                    playlist.init_uri = join(uri)
            elif tag == "#EXTINF":
                duration = _duration(value.split(",", 1)[0], tag)
            elif tag == "#EXT-X-ENDLIST":
                playlist.ended = True
            elif tag == "#EXT-X-STREAM-INF":
                raw = _attributes(value).get("BANDWIDTH", "0")
                bandwidth = _integer(raw, "BANDWIDTH", _MAX_SEQUENCE)
            elif tag == "#EXT-X-KEY" and _attributes(value).get("METHOD", "NONE") != "NONE":
                raise HlsError("encrypted HLS (EXT-X-KEY) is not supported")
            elif tag == "#EXT-X-BYTERANGE":
                raise HlsError("byte-range HLS segments (EXT-X-BYTERANGE) are not supported")
            continue
        uri = join(line)
        if bandwidth is not None:
            playlist.variants.append((bandwidth, uri))
            bandwidth = None
        else:
            if sequence is None:
                sequence = playlist.media_sequence
            playlist.segments.append(Segment(sequence, uri, duration or 0.0))
            sequence += 1
            duration = None
    return playlist


def _joiner(base_url: str) -> Callable[[str], str]:
    """``urljoin(base_url, uri)``, with a fast path for plain names (``seg7.ts?t=x``)."""
    path = base_url.split("?", 1)[0].split("#", 1)[0]
    slash = path.rfind("/")
    folder = path[: slash + 1] if "://" in path and slash > path.find("://") + 2 else ""

    def join(uri: str) -> str:
        if folder and "/" not in uri and ":" not in uri and not uri.startswith((".", "?")):
            return folder + uri
        return urljoin(base_url, uri)

    return join


def _integer(text: str, tag: str, largest: int) -> int:
    """A decimal-integer (RFC 8216 4.2), at most ``largest``; else `HlsError`."""
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 20 or int(text) > largest:
        raise HlsError(f"HLS playlist has a malformed {tag} value: {text[:40]!r}")
    return int(text)


def _duration(text: str, tag: str) -> float:
    """A duration in seconds: finite, not negative, at most `MAX_DURATION`; else `HlsError`."""
    text = text.strip()
    try:
        value = float(text) if len(text) <= 40 else math.nan
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= MAX_DURATION:  # NaN fails too
        raise HlsError(f"HLS playlist has a malformed {tag} duration: {text[:40]!r}")
    return value
