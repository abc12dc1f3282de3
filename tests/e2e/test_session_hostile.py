"""A hostile or careless server: the session survives what it sends, over real loopback peers."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from heygen_streaming import MediaStarted, TalkingStarted
from heygen_streaming._v1.rtc import MAX_REMOTE_CANDIDATES, MAX_REMOTE_SSRC_LINES
from heygen_streaming.emulator import Emulator

from ._session_util import WAIT, make_client, rewriting_client

pytestmark = pytest.mark.timeout(90)


async def test_unparsable_data_channel_messages_are_logged_and_survived(
    emulator: Emulator, api_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="heygen_streaming")
    async with (
        make_client(emulator.base_url, api_key) as client,
        client.session(quality="low", connect_timeout=WAIT) as s,
    ):
        events = s.events()
        server = emulator.get_session(s.session_id)
        assert server is not None and server.peer is not None
        channel = server.peer.channel
        channel.send("[" * 200_000)  # the reported attack: over the size cap
        channel.send("[" * 60_000)  # within the cap: RecursionError in json.loads
        channel.send(b"\xff\xfe{not utf-8")
        channel.send("42")  # JSON, but not an object
        channel.send(b"x" * (100 * 1024))  # over the size cap
        # the server's own format: binary UTF-8 JSON; text is accepted as well
        channel.send(json.dumps({"type": "avatar_start_talking", "task_id": "bin"}).encode())
        channel.send(json.dumps({"type": "avatar_start_talking", "task_id": "text"}))
        seen: list[str | None] = []
        async with asyncio.timeout(WAIT):
            async for event in events:
                if isinstance(event, TalkingStarted):
                    seen.append(event.task_id)
                    if len(seen) == 2:
                        break
        assert seen == ["bin", "text"]
        assert s.state == "connected"
        await asyncio.wait_for(anext(s.video()), WAIT)
        await s.speak("still alive")
    assert s.end_reason == "closed"
    assert "RecursionError" in caplog.text
    assert "not UTF-8" in caplog.text
    assert "102400-byte" in caplog.text and "200000-byte" in caplog.text


def _add_candidates(count: int) -> Any:
    def rewrite(data: dict[str, Any]) -> None:
        lines = data["sdp"]["sdp"].split("\r\n")
        at = max(i for i, line in enumerate(lines) if line.startswith("a=candidate:")) + 1
        junk = [
            f"a=candidate:x{i} 1 udp 1 127.0.0.1 {20000 + i % 40000} typ host" for i in range(count)
        ]
        data["sdp"]["sdp"] = "\r\n".join(lines[:at] + junk + lines[at:])

    return rewrite


async def test_an_offer_with_thousands_of_candidates_is_capped(
    emulator: Emulator, api_key: str
) -> None:
    async with (
        rewriting_client(emulator.base_url, api_key, _add_candidates(3000)) as client,
        client.session(quality="low", connect_timeout=WAIT) as s,
    ):
        await asyncio.wait_for(anext(s.video()), WAIT)
        peer = s._core.connector.peer
        assert peer is not None
        applied = peer.pc.remoteDescription.sdp.count("a=candidate:")
        assert 0 < applied <= MAX_REMOTE_CANDIDATES


async def test_an_offer_with_thousands_of_ssrc_lines_is_capped(
    emulator: Emulator, api_key: str
) -> None:
    """aiortc parses ``a=ssrc`` lines in quadratic time: 40,000 blocked the loop for 10 s."""

    def rewrite(data: dict[str, Any]) -> None:
        lines = data["sdp"]["sdp"].split("\r\n")
        at = next(i for i, line in enumerate(lines) if line.startswith("m=video")) + 1
        junk = [f"a=ssrc:{i} cname:junk" for i in range(1, 3001)]
        data["sdp"]["sdp"] = "\r\n".join(lines[:at] + junk + lines[at:])

    async with (
        rewriting_client(emulator.base_url, api_key, rewrite) as client,
        client.session(quality="low", connect_timeout=WAIT) as s,
    ):
        await asyncio.wait_for(anext(s.video()), WAIT)
        peer = s._core.connector.peer
        assert peer is not None
        applied = peer.pc.remoteDescription.sdp.count("a=ssrc:")
        assert 0 < applied <= MAX_REMOTE_SSRC_LINES


async def test_a_malformed_ice_server_url_is_skipped_with_a_warning(
    emulator: Emulator, api_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    def rewrite(data: dict[str, Any]) -> None:
        data["ice_servers"] = None
        data["ice_servers2"] = [
            {"urls": ["stun:127.0.0.1:notaport", "http://example.invalid/"]},
            {"urls": "turn:", "username": "u", "credential": "c"},
        ]

    caplog.set_level(logging.WARNING, logger="heygen_streaming")
    async with (
        rewriting_client(emulator.base_url, api_key, rewrite) as client,
        client.session(quality="low", connect_timeout=WAIT) as s,
    ):
        events = s.events()
        async with asyncio.timeout(WAIT):
            async for event in events:
                if isinstance(event, MediaStarted):
                    break
    assert "stun:127.0.0.1:notaport" in caplog.text
    assert "http://example.invalid/" in caplog.text
    assert "'turn:'" in caplog.text
