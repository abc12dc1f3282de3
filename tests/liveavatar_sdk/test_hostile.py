"""A hostile LiveAvatar service: a room that never answers (ConnectTimeout within the
deadline, the session stopped), and a LITE socket that sends garbage, oversized and
nested frames (the session lives on; bad events are passed on raw; an oversized frame
drops the socket, which is opened again)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import WSMsgType, web

from heygen_streaming import ConnectTimeout, LiveAvatarClient
from heygen_streaming.liveavatar import RawEvent

from .conftest import AVATAR, KEY, Emu, Sdk

pytestmark = [pytest.mark.netns, pytest.mark.requires_tool("ip", package="iproute2")]


@dataclass
class Hostile:
    """REST in front of the emulator: ``room`` "blackhole" sends the client to a TCP port
    that never answers; ``socket`` "garbage" swaps the LITE socket for a hostile one."""

    emulator: str
    base_url: str = ""
    room: str = "emulator"
    stops: list[str] = field(default_factory=list)
    sockets: int = 0
    blackhole: str = ""

    async def forward(self, request: web.Request) -> web.Response:
        headers = {
            k: v for k, v in request.headers.items() if k.lower() in ("x-api-key", "authorization")
        }
        async with httpx.AsyncClient(base_url=self.emulator) as http:
            answer = await http.request(
                request.method, request.path_qs, headers=headers, content=await request.read()
            )
        body = answer.json()
        if request.path == "/v1/sessions/stop":
            self.stops.append(request.headers.get("Authorization", "key"))
        if request.path == "/v1/sessions/start" and answer.status_code == 201:
            data = body["data"]
            if self.room == "blackhole":
                data["livekit_url"] = self.blackhole
            if data.get("ws_url"):
                data["ws_url"] = f"{self.base_url.replace('http', 'ws')}/hostile-socket"
        return web.json_response(body, status=answer.status_code)

    async def socket(self, request: web.Request) -> web.WebSocketResponse:
        self.sockets += 1
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        await ws.send_str(json.dumps({"type": "session.state_updated", "state": "connecting"}))
        for bad in (
            "not json",
            "[1, 2]",
            "[" * 100_000 + "]" * 100_000,
            json.dumps({"type": 7}),
            json.dumps({"type": "agent.speak_started", "event_id": ["x"], "task": "no"}),
            json.dumps({"type": "error", "code": "x" * 10_000, "message": "\x1b[31mred"}),
        ):
            await ws.send_str(bad)
        await ws.send_bytes(b"\x00\xff binary")
        if self.sockets == 1:
            await ws.send_str("x" * (5 << 20))  # over the client's 4 MiB: it drops the socket
        await ws.send_str(json.dumps({"type": "session.state_updated", "state": "connected"}))
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                break
        return ws


async def _blackhole(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(1 << 16)  # hears the request, never answers
    await asyncio.sleep(3600)


@pytest.fixture(scope="module")
def hostile(emu: Emu, sdk: Sdk) -> Any:
    state = Hostile(emulator=emu.base_url)

    async def start() -> tuple[web.AppRunner, asyncio.Server]:
        app = web.Application()
        app.router.add_route("*", "/v1/{tail:.*}", state.forward)
        app.router.add_get("/hostile-socket", state.socket)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, sdk.net.server_ip, 0)
        await site.start()
        port = runner.addresses[0][1]
        state.base_url = f"http://{sdk.net.server_ip}:{port}"
        hole = await asyncio.start_server(_blackhole, sdk.net.server_ip, 0)
        state.blackhole = f"ws://{sdk.net.server_ip}:{hole.sockets[0].getsockname()[1]}"
        return runner, hole

    runner, hole = emu.run(start())
    yield state
    hole.close()
    emu.run(runner.cleanup())


@pytest.mark.timeout(60)
def test_a_room_that_never_connects(sdk: Sdk, emu: Emu, hostile: Hostile) -> None:
    hostile.room = "blackhole"

    async def scenario() -> tuple[BaseException | None, float, list[str]]:
        async with LiveAvatarClient(api_key=KEY, base_url=hostile.base_url) as client:
            started = time.monotonic()
            error: BaseException | None = None
            try:
                async with client.session(avatar_id=AVATAR, quality="low", connect_timeout=3):
                    pass
            except ConnectTimeout as exc:
                error = exc
            took = time.monotonic() - started
            async with LiveAvatarClient(api_key=KEY, base_url=emu.base_url) as admin:
                left = [s.id for s in await admin.list_sessions(active=True)]
            return error, took, left

    try:
        error, took, left = sdk.run(scenario(), 40)
    finally:
        hostile.room = "emulator"
    assert isinstance(error, ConnectTimeout) and "connect_timeout=3" in str(error)
    assert 2.9 < took < 3.0 + 2.5  # the deadline, then the stop
    assert left == [] and hostile.stops and hostile.stops[-1].startswith("Bearer ")


@pytest.mark.timeout(60)
def test_a_lite_socket_sending_garbage(sdk: Sdk, emu: Emu, hostile: Hostile) -> None:
    async def scenario() -> tuple[str, list[Any], int]:
        async with (
            LiveAvatarClient(api_key=KEY, base_url=hostile.base_url) as client,
            client.session(avatar_id=AVATAR, mode="lite", quality="low") as s,
        ):
            events = s.events()
            await asyncio.sleep(0.5)
            await s.keep_alive()  # the socket works
            state = str(s.state)
        return state, [e async for e in events], hostile.sockets

    state, events, sockets = sdk.run(scenario(), 40)
    assert state == "connected"
    raw = {e.type for e in events if isinstance(e, RawEvent)}
    assert "malformed" in raw
    assert sockets == 2  # the oversized frame dropped the first; the second was opened
