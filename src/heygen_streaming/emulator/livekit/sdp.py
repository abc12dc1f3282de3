"""SDP text edits the room server makes, as pure functions on SDP strings.

* `set_stream_ids`: the official clients map a received track to its participant and track
  by the media stream id ``"PA_xxx|TR_yyy"`` (the ``a=msid`` line); aiortc writes one random
  stream id per connection, so the server rewrites the line of each m-section it sends on
  (the text sent to the client is changed, aiortc's own description is not: it never reads
  the msid back).
* `keep_codec`: on the single-connection path the client offers and the server answers, so
  the server picks a section's video codec by removing the others from the client's offer
  before aiortc sees it (aiortc answers with the first codec both sides have).
* `sections`, `bundle_mid`, `msid_track_ids`: what the server reads from a client's SDP.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..sdp import join_sections, split_sections

__all__ = [
    "Section",
    "bundle_mid",
    "candidates",
    "keep_codec",
    "msid_track_ids",
    "sections",
    "set_stream_ids",
]

_DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_RTPMAP = re.compile(r"^a=rtpmap:(\d+) ([^/\s]+)/")
_APT = re.compile(r"^a=fmtp:(\d+) .*\bapt=(\d+)")
_PT_LINE = re.compile(r"^a=(?:rtpmap|fmtp|rtcp-fb):(\d+)[ /]")
_CODEC_NAMES = {"h264": "h264", "vp8": "vp8"}


@dataclass(frozen=True)
class Section:
    """One m-section: its index, mid, kind (``audio``/``video``/``application``) and the
    direction its author wrote (``recvonly`` from a client = it wants to receive)."""

    index: int
    mid: str
    kind: str
    direction: str


def _mid(section: list[str]) -> str:
    return next((line[6:].strip() for line in section if line.startswith("a=mid:")), "")


def sections(sdp: str) -> list[Section]:
    """The m-sections of ``sdp`` in order."""
    _, body = split_sections(sdp)
    out = []
    for index, section in enumerate(body):
        kind = section[0][2:].split(" ", 1)[0]
        direction = next((d for d in _DIRECTIONS if f"a={d}" in section), "sendrecv")
        out.append(Section(index, _mid(section), kind, direction))
    return out


def bundle_mid(sdp: str) -> str | None:
    """The first mid of the BUNDLE group (the transport every candidate belongs to)."""
    session, body = split_sections(sdp)
    for line in session:
        if line.startswith("a=group:BUNDLE"):
            mids = line.split()[1:]
            return mids[0] if mids else None
    return _mid(body[0]) if body else None


def candidates(sdp: str) -> list[str]:
    """The distinct ``candidate:...`` lines of ``sdp`` (without ``a=``), in order."""
    found: list[str] = []
    for line in sdp.replace("\r\n", "\n").split("\n"):
        if line.startswith("a=candidate:") and line[2:] not in found:
            found.append(line[2:])
    return found


def msid_track_ids(sdp: str) -> dict[str, str]:
    """``{mid: track id}`` from each section's ``a=msid:<stream> <track>`` line."""
    _, body = split_sections(sdp)
    found: dict[str, str] = {}
    for section in body:
        for line in section:
            if line.startswith("a=msid:"):
                parts = line[7:].split()
                if len(parts) >= 2:
                    found[_mid(section)] = parts[1]
                break
    return found


def set_stream_ids(sdp: str, ids: dict[str, tuple[str, str]]) -> str:
    """Give each section whose mid is in ``ids`` the msid ``<stream id> <track id>``."""
    session, body = split_sections(sdp)
    for section in body:
        wanted = ids.get(_mid(section))
        if wanted is None:
            continue
        msid = f"a=msid:{wanted[0]} {wanted[1]}"
        kept = [line for line in section if not line.startswith("a=msid:")]
        at = next((i + 1 for i, line in enumerate(kept) if line.startswith("a=mid:")), len(kept))
        kept.insert(at, msid)
        section[:] = [
            re.sub(r" msid:\S+ \S+$", f" msid:{wanted[0]} {wanted[1]}", line)
            if line.startswith("a=ssrc:")
            else line
            for line in kept
        ]
    return join_sections(session, body)


def keep_codec(sdp: str, mids: set[str], codec: str) -> tuple[str, set[str]]:
    """Keep only ``codec`` (``"h264"``/``"vp8"``, with its RTX) in the sections ``mids``.

    Returns the SDP and the mids that do not offer the codec at all (left unchanged).
    """
    name = _CODEC_NAMES[codec.lower()]
    session, body = split_sections(sdp)
    missing: set[str] = set()
    for section in body:
        mid = _mid(section)
        if mid not in mids:
            continue
        wanted = {
            m.group(1)
            for line in section
            if (m := _RTPMAP.match(line)) and m.group(2).lower() == name
        }
        if not wanted:
            missing.add(mid)
            continue
        wanted |= {
            m.group(1) for line in section if (m := _APT.match(line)) and m.group(2) in wanted
        }
        head = section[0].split(" ")
        head = head[:3] + [pt for pt in head[3:] if pt in wanted]
        section[:] = [" ".join(head)] + [
            line
            for line in section[1:]
            if not ((m := _PT_LINE.match(line)) and m.group(1) not in wanted)
        ]
    return join_sections(session, body), missing
