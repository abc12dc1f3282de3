"""Hostile input against LiveAvatar's REST API and LITE socket: each case gets its documented
answer (docs/emulator-liveavatar.md, "Hostile input"), and another key's session is
unaffected, measured before and after every case: its LITE speech still ends promptly and
its REST calls answer. (The room and signalling cases are in the room server's own table.)
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import pytest

from heygen_streaming.emulator import Emulator
from heygen_streaming.emulator.liveavatar.catalog import AVATARS

pytestmark = pytest.mark.timeout(60)

KEY, OTHER = "hostile-key", "bystander-key"
AVATAR = AVATARS[0].id
SECOND_OF_AUDIO = bytes(48_000)  # 1 s of PCM s16le at 24 kHz


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def session(http: httpx.AsyncClient, key: str, mode: str = "LITE") -> dict[str, Any]:
    body: dict[str, Any] = {"avatar_id": AVATAR, "mode": mode}
    if mode == "FULL":
        body["avatar_persona"] = {}
    token = (await http.post("/v1/sessions/token", headers={"X-API-KEY": key}, json=body)).json()
    auth = {"Authorization": f"Bearer {token['data']['session_token']}"}
    started = await http.post("/v1/sessions/start", headers=auth)
    data: dict[str, Any] = started.json()["data"]
    data["token"] = token["data"]["session_token"]
    return data


async def next_event(ws: aiohttp.ClientWebSocketResponse, kind: str, within: float = 5.0) -> Any:
    async with asyncio.timeout(within):
        while True:
            message = await ws.receive()
            if message.type != aiohttp.WSMsgType.TEXT:
                return (
                    f"closed:{message.data}"
                    if message.type == aiohttp.WSMsgType.CLOSE
                    else "closed"
                )
            event = json.loads(message.data)
            if event["type"] == kind:
                return event


@dataclass
class Bystander:
    """Another key's LITE session, probed before and after each case."""

    http: httpx.AsyncClient
    ws: aiohttp.ClientWebSocketResponse
    session_id: str

    async def speech_latency(self) -> float:
        """Seconds from agent.speak_end of 0.1 s of audio to agent.speak_ended."""
        await self.ws.send_str(
            json.dumps({"type": "agent.speak", "event_id": "p", "audio": b64(bytes(4800))})
        )
        began = time.monotonic()
        await self.ws.send_str(json.dumps({"type": "agent.speak_end", "event_id": "p"}))
        await next_event(self.ws, "agent.speak_ended")
        return time.monotonic() - began

    async def rest_latency(self) -> float:
        began = time.monotonic()
        answer = await self.http.get("/v1/voices", headers={"X-API-KEY": OTHER})
        assert answer.status_code == 200
        return time.monotonic() - began


@dataclass
class Ctx:
    emu: Emulator
    http: httpx.AsyncClient
    ws: aiohttp.ClientSession
    last: dict[str, Any] | None = None

    async def lite(self) -> aiohttp.ClientWebSocketResponse:
        """A LITE socket of the hostile key's own session (`last`: its start data)."""
        data = self.last = await session(self.http, KEY)
        socket = await self.ws.ws_connect(data["ws_url"], max_msg_size=0)
        await next_event(socket, "session.state_updated")
        state = await next_event(socket, "session.state_updated")
        assert state["state"] == "connected"
        return socket

    async def lite_error(self, frame: str | bytes) -> str:
        socket = await self.lite()
        await (socket.send_bytes(frame) if isinstance(frame, bytes) else socket.send_str(frame))
        event = await next_event(socket, "error")
        return event if isinstance(event, str) else f"error:{event['code']}"


def status(response: httpx.Response) -> str:
    return str(response.status_code)


async def token_call(ctx: Ctx, **kwargs: Any) -> str:
    return status(await ctx.http.post("/v1/sessions/token", **kwargs))


async def start_with(ctx: Ctx, token: str) -> str:
    return status(
        await ctx.http.post("/v1/sessions/start", headers={"Authorization": f"Bearer {token}"})
    )


async def _get(ctx: Ctx, path: str) -> str:
    return status(await ctx.http.get(path, headers={"X-API-KEY": KEY}))


def forged(alg: str) -> str:
    head = base64.urlsafe_b64encode(json.dumps({"alg": alg}).encode()).rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(
        json.dumps({"session_id": "x", "space": "y", "iat": 1, "exp": 2**40}).encode()
    )
    return f"{head}.{body.rstrip(b'=').decode()}."


async def token_flood(ctx: Ctx) -> str:
    body = {"avatar_id": AVATAR, "mode": "LITE"}
    answers = await asyncio.gather(
        *(
            ctx.http.post("/v1/sessions/token", headers={"X-API-KEY": KEY}, json=body)
            for _ in range(200)
        )
    )
    codes = {a.status_code for a in answers}
    return "429" if 429 in codes and codes <= {200, 429} else str(sorted(codes))


async def unstarted_pile(ctx: Ctx) -> str:
    ctx.emu.liveavatar.limiter = None  # not the rate limit: the pile of tokens never started
    body = {"avatar_id": AVATAR, "mode": "LITE"}
    for _ in range(101):
        last = await ctx.http.post("/v1/sessions/token", headers={"X-API-KEY": KEY}, json=body)
    return status(last)


async def speak_flood(ctx: Ctx) -> str:
    """Minutes of audio faster than real time: the buffer stops at 60 s, then errors."""
    socket = await ctx.lite()
    frame = json.dumps(
        {"type": "agent.speak", "event_id": "flood", "audio": b64(SECOND_OF_AUDIO * 10)}
    )
    for _ in range(8):
        await socket.send_str(frame)
    event = await next_event(socket, "error")
    return f"error:{event['code']}"


async def huge_frame(ctx: Ctx) -> str:
    """Closed with 1009 without reading the frame; a client still sending it may only see
    the connection drop. Either way the session lives on: a new socket works."""
    socket = await ctx.lite()
    assert ctx.last is not None
    session_id, url = ctx.last["session_id"], ctx.last["ws_url"]
    try:
        await socket.send_bytes(b"\x00" * (100 << 20))
        message = await socket.receive(timeout=10)
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), message
        assert message.type != aiohttp.WSMsgType.CLOSE or message.data == 1009
    except (ConnectionError, aiohttp.ClientError):
        pass
    again = await ctx.ws.ws_connect(url)
    await next_event(again, "session.state_updated")
    assert ctx.emu.liveavatar.registry.sessions[session_id].live
    return "closed"


async def bad_utf8(ctx: Ctx) -> str:
    socket = await ctx.lite()
    writer = socket._writer  # aiohttp's frame writer (private): a text frame that is not UTF-8
    await writer.send_frame(b"\xff\xfe\xfd", aiohttp.WSMsgType.TEXT)
    message = await socket.receive(timeout=5)
    return f"closed:{message.data}" if message.type == aiohttp.WSMsgType.CLOSE else "closed"


async def error_storm_unread(ctx: Ctx) -> str:
    """20,000 bad frames, no events read: backpressure, then all answered in order."""
    socket = await ctx.lite()
    for _ in range(20_000):
        await socket.send_str("x")
    count = 0
    async with asyncio.timeout(30):
        while count < 20_000:
            message = await socket.receive()
            assert message.type == aiohttp.WSMsgType.TEXT
            count += json.loads(message.data)["type"] == "error"
    return "error:invalid_json x20000"


async def replace_storm(ctx: Ctx) -> str:
    data = await session(ctx.http, KEY)
    sockets = [await ctx.ws.ws_connect(data["ws_url"]) for _ in range(15)]
    codes = []
    for socket in sockets[:-1]:
        message = await socket.receive(timeout=5)
        while message.type == aiohttp.WSMsgType.TEXT:
            message = await socket.receive(timeout=5)
        codes.append(message.data)
    return "replaced:4001" if set(codes) == {4001} else str(set(codes))


async def foreign_socket_token(ctx: Ctx) -> str:
    mine = await session(ctx.http, KEY)
    theirs = ctx.emu.liveavatar.media.media
    other_id = next(sid for sid in theirs if sid != mine["session_id"])
    url = mine["ws_url"].replace(mine["session_id"], other_id).replace("ws://", "http://")
    return status(await ctx.http.get(url))


async def end_unknown_ids(ctx: Ctx) -> str:
    socket = await ctx.lite()
    for i in range(5000):
        await socket.send_str(json.dumps({"type": "agent.speak_end", "event_id": f"nope-{i}"}))
    event = await next_event(socket, "warning")
    return f"warning:{event['code']}"


Case = Callable[[Ctx], Awaitable[str]]
CASES: list[tuple[str, str, Case]] = [
    (
        "REST body of 5 MB",
        "413",
        lambda c: token_call(c, headers={"X-API-KEY": KEY}, content=b"{" * (5 << 20)),
    ),
    (
        "REST JSON nested 100k deep",
        "422",
        lambda c: token_call(c, headers={"X-API-KEY": KEY}, content=b"[" * 100_000),
    ),
    (
        "REST avatar_id of 500 kB",
        "422",
        lambda c: token_call(c, headers={"X-API-KEY": KEY}, json={"avatar_id": "a" * 500_000}),
    ),
    (
        "REST 20k dynamic variables",
        "422",
        lambda c: token_call(
            c,
            headers={"X-API-KEY": KEY},
            json={
                "avatar_id": AVATAR,
                "mode": "LITE",
                "dynamic_variables": {str(i): i for i in range(20_000)},
            },
        ),
    ),
    ("JWT alg none", "401", lambda c: start_with(c, forged("none"))),
    ("JWT of 7 kB", "401", lambda c: start_with(c, "e" * 3000 + "." + "f" * 4000 + ".g")),
    (
        "JWT expired",
        "401",
        lambda c: start_with(
            c,
            c.emu.liveavatar.tokens.mint(session_id="s", owner=KEY, ttl=-5, start_session_data={}),
        ),
    ),
    ("JWT with garbage base64", "401", lambda c: start_with(c, "!!.@@.##")),
    ("API key in the bearer slot", "401", lambda c: start_with(c, KEY)),
    (
        "path traversal in a session id",
        "404",
        lambda c: _get(c, "/v1/sessions/..%2F..%2Fetc%2Fpasswd/transcript"),
    ),
    ("token flood, 200 at once", "429", token_flood),
    ("101 tokens never started", "429", unstarted_pile),
    ("LITE socket, other session's id", "401", foreign_socket_token),
    ("LITE agent.speak flood (80 s)", "error:buffer_full", speak_flood),
    ("LITE 100 MB frame", "closed", huge_frame),
    (
        "LITE 3 MB text frame",
        "error:message_too_large",
        lambda c: c.lite_error(json.dumps({"type": "agent.speak", "audio": "A" * (3 << 20)})),
    ),
    ("LITE binary garbage", "error:binary_frame", lambda c: c.lite_error(bytes(range(256)) * 64)),
    ("LITE text that is not UTF-8", "closed:1007", bad_utf8),
    ("LITE JSON nested 100k deep", "error:invalid_json", lambda c: c.lite_error("[" * 100_000)),
    (
        "LITE audio of 1 MiB + 2 bytes",
        "error:audio_too_large",
        lambda c: c.lite_error(
            json.dumps({"type": "agent.speak", "audio": b64(bytes((1 << 20) + 2))})
        ),
    ),
    (
        "LITE event_id of 10k chars",
        "error:invalid_event_id",
        lambda c: c.lite_error(json.dumps({"type": "agent.interrupt", "event_id": "e" * 10_000})),
    ),
    ("LITE 20k bad frames, unread", "error:invalid_json x20000", error_storm_unread),
    ("LITE 5000 speak_end of unknown ids", "warning:unknown_event_id", end_unknown_ids),
    ("LITE 15 sockets for one session", "replaced:4001", replace_storm),
]


@pytest.fixture
async def ctx() -> AsyncIterator[tuple[Ctx, Bystander]]:
    async with (
        Emulator(api_key=KEY, extra_keys=[OTHER]) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=30) as http,
        aiohttp.ClientSession() as ws,
    ):
        data = await session(http, OTHER)
        socket = await ws.ws_connect(data["ws_url"])
        await next_event(socket, "session.state_updated")
        yield Ctx(emu, http, ws), Bystander(http, socket, data["session_id"])


@pytest.mark.parametrize(("expected", "case"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_hostile_input_gets_its_answer_and_others_are_unaffected(
    ctx: tuple[Ctx, Bystander], expected: str, case: Case, record_property: Any
) -> None:
    context, bystander = ctx
    before = await bystander.speech_latency()
    assert await case(context) == expected
    after = await bystander.speech_latency()
    rest = await bystander.rest_latency()
    record_property("bystander", {"speech_before": before, "speech_after": after, "rest": rest})
    assert context.emu.liveavatar.registry.sessions[bystander.session_id].live
    assert after < max(1.0, 3 * before) and rest < 1.0, (before, after, rest)
