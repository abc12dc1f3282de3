"""SDP and ICE text helpers shared by every API's peers (pure functions on strings).

`split_sections`/`join_sections` take an SDP apart into its session lines and m-sections and
put it back together. `cap_candidates` bounds the candidates of a remote description (aioice
matches candidates in quadratic time: thousands of them stall the event loop for seconds),
and its ``a=ssrc`` lines (aiortc's SDP parser matches those quadratically too).
`parse_candidate` reads one trickled candidate.
"""

from __future__ import annotations

from aiortc import RTCIceCandidate
from aiortc.sdp import candidate_from_sdp

__all__ = [
    "MAX_REMOTE_CANDIDATES",
    "MAX_REMOTE_SSRC_LINES",
    "cap_candidates",
    "join_sections",
    "parse_candidate",
    "split_sections",
]

MAX_REMOTE_CANDIDATES = 64
MAX_REMOTE_SSRC_LINES = 64


def split_sections(sdp: str) -> tuple[list[str], list[list[str]]]:
    """(session lines, [m-section lines, ...]) of ``sdp``, blank lines dropped."""
    lines = [line for line in sdp.replace("\r\n", "\n").split("\n") if line]
    starts = [i for i, line in enumerate(lines) if line.startswith("m=")]
    if not starts:
        return lines, []
    ends = [*starts[1:], len(lines)]
    return lines[: starts[0]], [lines[a:b] for a, b in zip(starts, ends, strict=True)]


def join_sections(session: list[str], sections: list[list[str]]) -> str:
    """The SDP text of `split_sections`' parts (CRLF line ends)."""
    return "\r\n".join([*session, *(line for section in sections for line in section)]) + "\r\n"


def cap_candidates(
    sdp: str, limit: int = MAX_REMOTE_CANDIDATES, *, prefix: str = "a=candidate:"
) -> tuple[str, int]:
    """Keep the first ``limit`` lines of ``sdp`` starting with ``prefix``; (sdp, dropped)."""
    kept = 0
    dropped = 0
    out = []
    for line in sdp.replace("\r\n", "\n").split("\n"):
        if line.startswith(prefix):
            if kept >= limit:
                dropped += 1
                continue
            kept += 1
        out.append(line)
    if not dropped:
        return sdp, 0
    return "\r\n".join(out), dropped


def parse_candidate(text: str) -> RTCIceCandidate:
    """Parse ``candidate:...`` (browser style) or a bare candidate line; ValueError if bad."""
    line = text.strip()
    line = line.removeprefix("a=").removeprefix("candidate:")
    try:
        candidate = candidate_from_sdp(line)
    except (AssertionError, ValueError, IndexError) as exc:
        raise ValueError("malformed ICE candidate") from exc
    if candidate.protocol.lower() not in ("udp", "tcp") or not candidate.ip:
        raise ValueError("malformed ICE candidate")
    if not 0 < candidate.port < 65536 or candidate.component not in (1, 2):
        raise ValueError("malformed ICE candidate")
    return candidate
