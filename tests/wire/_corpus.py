"""The captured v1 wire corpus (copied from the project's ``shared/wire/v1``) and SDP helpers.

``structure(sdp)`` reduces an offer to what the captures have in common (SDP_NOTES.md), so the
emulator's offer can be compared with HeyGen's. ``loopback_only(sdp)`` rewrites a captured
offer so that applying it can never send a packet off this machine.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

V1 = Path(__file__).with_name("fixtures") / "v1"
OFFERS = ("offer_1.sdp", "offer_2.sdp", "offer_3.sdp")


def load(name: str) -> Any:
    """A JSON fixture."""
    return json.loads((V1 / name).read_text("utf-8"))


def offer(name: str) -> str:
    """A captured offer, with the CRLF line endings it was captured with."""
    text = (V1 / name).read_text("utf-8")
    return "\r\n".join(text.splitlines()) + "\r\n"


_CANDIDATE = re.compile(r"^(a=candidate:\S+ \d+ \S+ \d+ )(\S+)( \d+ typ \S+)(.*)$")


def loopback_only(sdp: str) -> str:
    """Every candidate address (and ``raddr``) rewritten to 127.0.0.1."""
    out = []
    for line in sdp.split("\r\n"):
        match = _CANDIDATE.match(line)
        if match:
            rest = re.sub(r"raddr \S+", "raddr 127.0.0.1", match.group(4))
            line = f"{match.group(1)}127.0.0.1{match.group(3)}{rest}"
        out.append(line)
    return "\r\n".join(out)


def addresses(sdp: str) -> set[str]:
    """Every IPv4/IPv6 address on candidate lines (connection address and raddr)."""
    found: set[str] = set()
    for line in sdp.splitlines():
        match = _CANDIDATE.match(line)
        if match:
            found.add(match.group(2))
            found.update(re.findall(r"raddr (\S+)", match.group(4)))
    return found


def sections(sdp: str) -> tuple[list[str], list[list[str]]]:
    """(session lines, [m-section lines])."""
    lines = [line for line in sdp.splitlines() if line]
    starts = [i for i, line in enumerate(lines) if line.startswith("m=")]
    ends = [*starts[1:], len(lines)]
    return lines[: starts[0]], [lines[a:b] for a, b in zip(starts, ends, strict=True)]


def structure(sdp: str) -> dict[str, Any]:
    """The properties every captured v1 offer shares (see SDP_NOTES.md)."""
    session, secs = sections(sdp)
    media = []
    for sec in secs:
        kind, port, proto, *fmts = sec[0][2:].split(" ")
        attrs = [line[2:] for line in sec[1:] if line.startswith("a=")]
        codecs = [a.split(":", 1)[1] for a in attrs if a.startswith("rtpmap:")]
        directions = [a for a in attrs if a in ("sendonly", "recvonly", "sendrecv", "inactive")]
        candidates = [a for a in attrs if a.startswith("candidate:")]
        last_candidate = max(
            (i for i, a in enumerate(attrs) if a.startswith("candidate:")), default=-1
        )
        media.append(
            {
                "kind": kind,
                "port": port,
                "proto": proto,
                "fmts": fmts,
                "mid": next(a[4:] for a in attrs if a.startswith("mid:")),
                "direction": directions,
                "codecs": codecs,
                "fmtp": sorted(a for a in attrs if a.startswith("fmtp:")),
                "rtcp_fb": [a for a in attrs if a.startswith("rtcp-fb:")],
                "has_candidates": bool(candidates),
                "end_of_candidates_follows": bool(candidates)
                and "end-of-candidates" in attrs[last_candidate + 1 :],
                "end_of_candidates": "end-of-candidates" in attrs,
                "sctp_port": [a for a in attrs if a.startswith("sctp-port:")],
                "max_message_size": any(a.startswith("max-message-size:") for a in attrs),
                "setup": [a for a in attrs if a.startswith("setup:")]
                or [a for a in session if a.startswith("a=setup:")],
            }
        )
    bundle = [line for line in session if line.startswith("a=group:BUNDLE")]
    return {"bundle": bundle, "media": media}
