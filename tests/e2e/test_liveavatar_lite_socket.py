"""The LITE control socket (``ws_url``) over a real WebSocket, without a media client: the
avatar plays the audio whether or not anyone watches, so its events come in real time."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
import numpy as np
import pytest

from heygen_streaming.emulator import Emulator
from heygen_streaming.emulator.liveavatar import LiveAvatarOptions

from ._liveavatar import bearer, create_token, failed, ok, start

KEY = "la-key"
pytestmark = pytest.mark.timeout(30)


def pcm(seconds: float, freq: float = 300.0) -> bytes:
    t = np.arange(int(24_000 * seconds)) / 24_000
    return (0.3 * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2").tobytes()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Lite:
    """A LITE socket client: send JSON, wait for events by type."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []

    async def send(self, **message: Any) -> None:
        await self.ws.send_str(json.dumps(message))

    async def expect(self, kind: str, within: float = 5.0, **fields: Any) -> dict[str, Any]:
        async with asyncio.timeout(within):
            while True:
                message = await self.ws.receive()
                assert message.type == aiohttp.WSMsgType.TEXT, message
                event: dict[str, Any] = json.loads(message.data)
                self.seen.append(event)
                if event["type"] == kind and all(event.get(k) == v for k, v in fields.items()):
                    return event


async def open_lite(
    emu: Emulator, http: httpx.AsyncClient, session: aiohttp.ClientSession
) -> tuple[str, str, Lite]:
    session_id, token = await create_token(http, KEY, mode="LITE")
    started = await start(http, token)
    ws = await session.ws_connect(started["ws_url"], max_msg_size=0)
    return session_id, token, Lite(ws)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(api_key=KEY) as emu:
        yield emu


@pytest.fixture
async def clients(emu: Emulator) -> AsyncIterator[tuple[httpx.AsyncClient, aiohttp.ClientSession]]:
    async with httpx.AsyncClient(base_url=emu.base_url) as http, aiohttp.ClientSession() as ws:
        yield http, ws


async def test_a_speech_in_chunks_plays_with_every_event(
    emu: Emulator, clients: tuple[httpx.AsyncClient, aiohttp.ClientSession]
) -> None:
    http, session = clients
    session_id, _, lite = await open_lite(emu, http, session)
    assert (await lite.expect("session.state_updated"))["state"] == "connecting"
    await lite.expect("session.state_updated", state="connected")
    audio = pcm(0.6)
    sizes = [19200, 2, 998, 7000]  # any sizes (even byte counts), one event id
    offset = 0
    for size in [*sizes, len(audio) - sum(sizes)]:
        await lite.send(
            type="agent.speak", event_id="say-1", audio=b64(audio[offset : offset + size])
        )
        offset += size
    await lite.send(type="agent.speak_end", event_id="say-1")
    started = await lite.expect("agent.speak_started", event_id="say-1")
    ended = await lite.expect("agent.speak_ended", event_id="say-1")
    await lite.expect("agent.state_updated", new_state="idle")
    assert started["task"] == ended["task"] and started["session_id"] == session_id
    kinds = [e["type"] for e in lite.seen]
    assert kinds.count("agent.audio_buffer_appended") == 5
    assert kinds.index("agent.audio_buffer_committed") < kinds.index("agent.speak_ended")
    states = [
        (e["previous_state"], e["new_state"])
        for e in lite.seen
        if e["type"] == "agent.state_updated"
    ]
    assert states == [("idle", "talking"), ("talking", "idle")]
    player = emu.liveavatar.media.media[session_id].player
    assert player is not None and player.samples_played >= 2 * len(audio) // 2


async def test_interrupt_and_listening(
    emu: Emulator, clients: tuple[httpx.AsyncClient, aiohttp.ClientSession]
) -> None:
    http, session = clients
    _, _, lite = await open_lite(emu, http, session)
    await lite.expect("session.state_updated", state="connected")
    await lite.send(type="agent.start_listening", event_id="l")
    assert (await lite.expect("agent.state_updated"))["new_state"] == "listening"
    await lite.send(type="agent.speak", event_id="long", audio=b64(pcm(5.0)))
    await lite.expect("agent.speak_started", event_id="long")
    await lite.send(type="agent.interrupt")
    await lite.expect("agent.speak_interrupted", event_id="long")
    await lite.expect("agent.audio_buffer_cleared")
    assert (await lite.expect("agent.state_updated"))["new_state"] == "listening"


async def test_bad_input_gets_error_events_and_the_session_lives_on(
    emu: Emulator, clients: tuple[httpx.AsyncClient, aiohttp.ClientSession]
) -> None:
    http, session = clients
    _, token, lite = await open_lite(emu, http, session)
    await lite.expect("session.state_updated", state="connected")
    cases = [
        ("not json", "invalid_json"),
        ("[]", "not_an_object"),
        ('{"type": "agent.sing"}', "unknown_type"),
        ('{"type": "agent.speak", "audio": "%%%"}', "invalid_base64"),
        (json.dumps({"type": "agent.speak", "audio": b64(b"abc")}), "odd_byte_count"),
        (json.dumps({"type": "agent.speak", "audio": "A" * (2 << 20)}), "message_too_large"),
    ]
    for frame, code in cases:
        await lite.ws.send_str(frame)
        assert (await lite.expect("error"))["code"] == code
    await lite.ws.send_bytes(b"\x00\xff")
    assert (await lite.expect("error"))["code"] == "binary_frame"
    await lite.send(type="agent.speak", event_id="fine", audio=b64(pcm(0.1)))
    await lite.send(type="agent.speak_end", event_id="fine")
    await lite.expect("agent.speak_ended", event_id="fine")
    ok(await http.post("/v1/sessions/keep-alive", headers=bearer(token)))


async def test_commands_before_connected_are_dropped_with_a_warning() -> None:
    options = LiveAvatarOptions(lite_ready_delay=0.5)
    async with (
        Emulator(api_key=KEY, liveavatar=options) as emu,
        httpx.AsyncClient(base_url=emu.base_url) as http,
        aiohttp.ClientSession() as session,
    ):
        _, _, lite = await open_lite(emu, http, session)
        await lite.expect("session.state_updated", state="connecting")
        await lite.send(type="agent.speak", event_id="early", audio=b64(pcm(0.1)))
        warning = await lite.expect("warning")
        assert warning["code"] == "not_connected" and warning["source_event_id"] == "early"
        await lite.expect("session.state_updated", state="connected")
        assert "agent.audio_buffer_appended" not in [e["type"] for e in lite.seen]


async def test_socket_access_replacement_stop_and_faults(
    emu: Emulator, clients: tuple[httpx.AsyncClient, aiohttp.ClientSession]
) -> None:
    http, session = clients
    session_id, token, lite = await open_lite(emu, http, session)
    await lite.expect("session.state_updated", state="connected")
    url = f"{emu.base_url}/liveavatar/ws/{session_id}"
    failed(await http.get(url, params={"token": "wrong"}), 401)
    failed(await http.get(f"{emu.base_url}/liveavatar/ws/nope", params={"token": "x"}), 404)
    _, full_token = await create_token(http, KEY)
    full = await start(http, full_token)
    failed(await http.get(f"{emu.base_url}/liveavatar/ws/{full['session_id']}"), 404)
    # A fault drops the socket abruptly; the session lives on and the client reconnects.
    ws_url = emu.liveavatar.media.media[session_id].socket_token
    assert await emu.faults.drop_lite_socket(session_id) == 1
    closed = await lite.ws.receive()
    assert closed.type in (
        aiohttp.WSMsgType.CLOSED,
        aiohttp.WSMsgType.CLOSE,
        aiohttp.WSMsgType.ERROR,
    )
    again = Lite(await session.ws_connect(f"{url.replace('http', 'ws', 1)}?token={ws_url}"))
    await again.expect("session.state_updated", state="connected")
    # A newer connection replaces the older one.
    newest = Lite(await session.ws_connect(f"{url.replace('http', 'ws', 1)}?token={ws_url}"))
    await newest.expect("session.state_updated", state="connected")
    replaced = await again.ws.receive()
    assert replaced.type == aiohttp.WSMsgType.CLOSE and replaced.data == 4001
    # Stopping the session tells the socket, then closes it.
    ok(await http.post("/v1/sessions/stop", headers=bearer(token)))
    await newest.expect("session.state_updated", state="closing")
    await newest.expect("session.state_updated", state="closed")
    final = await newest.ws.receive()
    assert final.type == aiohttp.WSMsgType.CLOSE and final.data == 1000
