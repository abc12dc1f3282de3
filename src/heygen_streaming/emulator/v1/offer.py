"""SDP shaping: aiortc's offer rewritten into the shape of HeyGen's captured (pion) offers.

What every captured v1 offer has (``tests/wire/fixtures/v1/SDP_NOTES.md``), and this module makes:

* m-lines video (mid 0, ``sendonly``, VP8 on payload type 96 alone), audio (mid 1,
  ``sendrecv``, opus on 111 with ``minptime=10;useinbandfec=1``), application (mid 2,
  ``a=sendrecv``, ``a=sctp-port:5000``, no ``a=max-message-size``); ``a=group:BUNDLE 0 1 2``;
* port 9 and ``c=IN IP4 0.0.0.0`` on every m-line;
* the candidates only in the first section, followed by ``a=end-of-candidates``;
* no ``a=rtcp-fb`` line at all (``rtcp_feedback=True`` keeps aiortc's NACK/PLI/REMB and RTX).

The offer is changed as text after aiortc set it as its local description. That is sound
because aiortc negotiates what the *answer* carries: the client answers with payload types
96/111 and without feedback, and aiortc's sender then uses exactly those.

`cap_candidates` (from `heygen_streaming.emulator.sdp`, re-exported) bounds the candidates and
``a=ssrc`` lines of a remote description.
"""

from __future__ import annotations

import re

from ..sdp import (
    MAX_REMOTE_CANDIDATES,
    MAX_REMOTE_SSRC_LINES,
    cap_candidates,
    join_sections,
    split_sections,
)

__all__ = ["MAX_REMOTE_CANDIDATES", "MAX_REMOTE_SSRC_LINES", "cap_candidates", "pion_offer"]

VP8_PT = 96
OPUS_PT = 111
OPUS_FMTP = "minptime=10;useinbandfec=1"

_PT_ATTRS = re.compile(r"^a=(rtpmap|fmtp|rtcp-fb):(\d+)(.*)$")


def _renumber(section: list[str], mapping: dict[int, int]) -> list[str]:
    """Apply ``mapping`` to the section's payload types (m-line, rtpmap/fmtp/rtcp-fb, apt)."""
    if not mapping:
        return section

    def pt(value: str) -> str:
        return str(mapping.get(int(value), int(value))) if value.isdigit() else value

    head = section[0].split(" ")
    out = [" ".join([*head[:3], *(pt(v) for v in head[3:])])]
    for line in section[1:]:
        match = _PT_ATTRS.match(line)
        if match:
            rest = re.sub(r"apt=(\d+)", lambda m: f"apt={pt(m.group(1))}", match.group(3))
            line = f"a={match.group(1)}:{pt(match.group(2))}{rest}"
        out.append(line)
    return out


def _payload_types(section: list[str], codec: str) -> list[int]:
    wanted = codec.lower()
    found = []
    for line in section:
        match = _PT_ATTRS.match(line)
        if match and match.group(1) == "rtpmap" and match.group(3).lower().startswith(" " + wanted):
            found.append(int(match.group(2)))
    return found


def pion_offer(sdp: str, *, rtcp_feedback: bool = False) -> str:
    """Rewrite aiortc's (max-bundle) offer into the captured pion shape (module docs)."""
    session, sections = split_sections(sdp)
    candidates: list[str] = []
    shaped: list[list[str]] = []
    for section in sections:
        kind = section[0][2:].split(" ", 1)[0]
        head = section[0].split(" ")
        body: list[str] = []
        for line in section[1:]:
            if line.startswith("a=candidate:"):
                if line not in candidates:
                    candidates.append(line)
                continue
            if line == "a=end-of-candidates" or line.startswith("a=max-message-size:"):
                continue
            if line.startswith("c="):
                line = "c=IN IP4 0.0.0.0"
            if not rtcp_feedback and line.startswith("a=rtcp-fb:"):
                continue
            if kind == "audio" and line in ("a=sendonly", "a=recvonly"):
                line = "a=sendrecv"
            body.append(line)
        head[1] = "9"
        out = [" ".join(head), *body]
        if kind == "video":
            vp8 = _payload_types(out, "VP8/")
            if vp8 and vp8[0] != VP8_PT:
                taken = {vp8[0]: VP8_PT}
                out = _renumber(out, {**taken, VP8_PT: vp8[0]})
        elif kind == "audio":
            opus = _payload_types(out, "opus/")
            if opus:
                out = _renumber(out, {opus[0]: OPUS_PT, OPUS_PT: opus[0]})
                if not any(line.startswith(f"a=fmtp:{OPUS_PT} ") for line in out):
                    at = next(
                        i for i, line in enumerate(out) if line.startswith(f"a=rtpmap:{OPUS_PT} ")
                    )
                    out.insert(at + 1, f"a=fmtp:{OPUS_PT} {OPUS_FMTP}")
        elif kind == "application" and "a=sendrecv" not in out:
            at = next((i + 1 for i, line in enumerate(out) if line.startswith("a=mid:")), len(out))
            out.insert(at, "a=sendrecv")
        shaped.append(out)
    if shaped:
        shaped[0] += [*candidates, "a=end-of-candidates"]
    return join_sections(session, shaped)
