"""The aiortc/aioice internals the SDK relies on still exist, and the helpers around them."""

from __future__ import annotations

import logging

import pytest

from heygen_streaming import NewSessionInfo
from heygen_streaming._v1.aiortc_private import INTERNALS, missing_internals
from heygen_streaming._v1.rtc import cap_candidates, ice_servers_for


def test_every_private_internal_used_still_exists() -> None:
    # If this fails, an aiortc/aioice upgrade removed something listed in _aiortc_private:
    # byte counters or the gathering bound would silently stop working.
    assert len(INTERNALS) == 5
    assert missing_internals() == []


def test_cap_candidates_keeps_the_first_ones_and_every_other_line() -> None:
    lines = ["v=0", "m=video 9 UDP/TLS/RTP/SAVPF 96", "a=mid:0"]
    lines += [f"a=candidate:{i} 1 udp 1 127.0.0.1 {1000 + i} typ host" for i in range(100)]
    lines += ["a=end-of-candidates", ""]
    capped, dropped = cap_candidates("\r\n".join(lines), limit=64)
    assert dropped == 36
    assert capped.count("a=candidate:") == 64
    assert "a=candidate:63 " in capped and "a=candidate:64 " not in capped
    assert capped.endswith("a=end-of-candidates\r\n")
    assert cap_candidates("v=0\r\n") == ("v=0\r\n", 0)


def test_ice_servers_skip_what_aiortc_would_reject(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="heygen_streaming")
    info = NewSessionInfo.model_validate(
        {
            "session_id": "s",
            "ice_servers2": [
                {"urls": ["stun:127.0.0.1:3478", "stun:host:port"]},
                {"urls": "turn:127.0.0.1?transport=udp", "username": "u", "credential": "c"},
                {"urls": ["nonsense"]},
            ],
        }
    )
    servers = ice_servers_for(info)
    assert [s.urls for s in servers] == [["stun:127.0.0.1:3478"], "turn:127.0.0.1?transport=udp"]
    assert "'stun:host:port'" in caplog.text and "'nonsense'" in caplog.text


def test_a_flood_of_ice_servers_is_cut(caplog: pytest.LogCaptureFixture) -> None:
    """A hostile list of 700 servers: only the first `MAX_ICE_SERVERS` reach aiortc."""
    from heygen_streaming._v1.rtc import MAX_ICE_SERVERS

    info = NewSessionInfo.model_validate(
        {
            "session_id": "s",
            "ice_servers2": [{"urls": f"stun:127.0.0.{i % 250 + 1}"} for i in range(700)],
        }
    )
    servers = ice_servers_for(info)
    assert [s.urls for s in servers] == [f"stun:127.0.0.{i + 1}" for i in range(MAX_ICE_SERVERS)]
    assert "700 ICE servers listed" in caplog.text
