"""HLS playlists (RFC 8216) as this SDK reads them: media and master playlists.

Only what live playback needs: target duration, media sequence, ``#EXT-X-MAP`` init
section, segments with their durations, ``#EXT-X-ENDLIST``, and variants of a master
playlist. Encrypted (``#EXT-X-KEY``) and byte-range segments are refused with `HlsError`
rather than decoded as garbage; other tags (LL-HLS parts, program dates) are ignored.
Relative URIs are resolved against the playlist's URL (its query, e.g. a token, is not
carried over: servers put it in the URIs they list).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urljoin

from ..._errors import HlsError

__all__ = ["HlsError", "Playlist", "Segment", "parse_playlist"]


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


def parse_playlist(text: str, base_url: str) -> Playlist:
    """Parse an M3U8 playlist; relative URIs are resolved against ``base_url``."""
    lines = [line.strip() for line in text.lstrip("\ufeff").splitlines()]
    if not lines or lines[0] != "#EXTM3U":
        raise HlsError("not an HLS playlist (no #EXTM3U header)")
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
                playlist.target_duration = _number(value)
            elif tag == "#EXT-X-MEDIA-SEQUENCE":
                playlist.media_sequence = int(_number(value) or 0)
            elif tag == "#EXT-X-MAP":
                uri = _attributes(value).get("URI")
                if uri:
                    playlist.init_uri = urljoin(base_url, uri)
            elif tag == "#EXTINF":
                duration = _number(value.split(",", 1)[0]) or 0.0
            elif tag == "#EXT-X-ENDLIST":
                playlist.ended = True
            elif tag == "#EXT-X-STREAM-INF":
                bandwidth = int(_number(_attributes(value).get("BANDWIDTH", "0")) or 0)
            elif tag == "#EXT-X-KEY" and _attributes(value).get("METHOD", "NONE") != "NONE":
                raise HlsError("encrypted HLS (EXT-X-KEY) is not supported")
            elif tag == "#EXT-X-BYTERANGE":
                raise HlsError("byte-range HLS segments (EXT-X-BYTERANGE) are not supported")
            continue
        uri = urljoin(base_url, line)
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


def _number(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None
