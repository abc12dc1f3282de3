"""Session rules of the emulator: isolation, limits, idle/duration timeouts, tokens, faults."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from heygen_streaming.emulator import Emulator, read_stamp
from heygen_streaming.emulator.v1.wire import Code

from ._rawclient import RawClient
from .test_emulator_http import call, failed, mint_token, new_session, ok


def client_for(emu: Emulator, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=emu.base_url, headers={"X-Api-Key": key}, timeout=10)


@pytest.fixture
async def two_keys() -> AsyncIterator[tuple[Emulator, httpx.AsyncClient, httpx.AsyncClient]]:
    async with (
        Emulator(api_key="alice", extra_keys=["bob"], max_sessions=2) as emu,
        client_for(emu, "alice") as alice,
        client_for(emu, "bob") as bob,
    ):
        yield emu, alice, bob


async def test_other_keys_cannot_touch_my_session(
    two_keys: tuple[Emulator, httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    _, alice, bob = two_keys
    sid = (await new_session(alice))["session_id"]
    assert ok(await call(bob, "list"))["sessions"] == []
    candidate = {"candidate": ""}
    for name, body in [
        ("task", {"session_id": sid, "text": "hi"}),
        ("stop", {"session_id": sid}),
        ("interrupt", {"session_id": sid}),
        ("keep_alive", {"session_id": sid}),
        ("ice", {"session_id": sid, "candidate": candidate}),
        ("start", {"session_id": sid, "sdp": {"type": "answer", "sdp": "v=0"}}),
    ]:
        failed(await call(bob, name, body), 404, Code.SESSION_NOT_FOUND)
    assert [s["session_id"] for s in ok(await call(alice, "list"))["sessions"]] == [sid]


async def test_concurrency_limit_is_per_key(
    two_keys: tuple[Emulator, httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    emu, alice, bob = two_keys
    first = (await new_session(alice))["session_id"]
    await new_session(alice)
    message = failed(await call(alice, "new", {"quality": "low"}), 400, Code.CONCURRENT_LIMIT)
    assert "oncurren" in message
    await new_session(bob)  # another account has its own slots
    ok(await call(alice, "stop", {"session_id": first}))
    await new_session(alice)  # a slot was freed
    assert len(emu.sessions) == 3


async def test_idle_timeout_closes_session_and_peer() -> None:
    async with Emulator(api_key="k", idle_timeout=0.5) as emu, client_for(emu, "k") as http:
        sid = (await new_session(http))["session_id"]
        session = emu.get_session(sid)
        assert session is not None and session.peer is not None
        assert await emu.wait_closed(sid, within=10) == "idle timeout"
        assert session.peer.pc.connectionState == "closed"
        message = failed(await call(http, "task", {"session_id": sid, "text": "x"}), 404, 10005)
        assert message == "session state wrong: closed"
        assert ok(await call(http, "list"))["sessions"] == []


async def test_keep_alive_and_task_reset_the_idle_timer() -> None:
    async with Emulator(api_key="k", idle_timeout=60) as emu, client_for(emu, "k") as http:
        sid = (await new_session(http))["session_id"]
        session = emu.get_session(sid)
        assert session is not None
        before, reason = session.deadline()
        assert reason == "idle timeout"
        ok(await call(http, "keep_alive", {"session_id": sid}))
        after, _ = session.deadline()
        assert after > before


async def test_request_can_set_or_disable_the_idle_timeout(emulator: Emulator) -> None:
    async with client_for(emulator, "test-key") as http:
        sid = (await new_session(http, activity_idle_timeout=30))["session_id"]
        session = emulator.get_session(sid)
        assert session is not None and session.idle_timeout == 30
        sid = (await new_session(http, disable_idle_timeout=True))["session_id"]
        session = emulator.get_session(sid)
        assert session is not None and session.idle_timeout is None
        assert session.deadline()[1] == "duration limit"


async def test_duration_limit_ends_the_session() -> None:
    async with (
        Emulator(api_key="k", duration_limit=1, idle_timeout=None) as emu,
        client_for(emu, "k") as http,
    ):
        data = await new_session(http)
        assert data["session_duration_limit"] == 1
        assert await emu.wait_closed(data["session_id"], within=10) == "duration limit"


async def test_expired_token_is_rejected() -> None:
    async with Emulator(api_key="k", token_ttl=0) as emu, client_for(emu, "k") as http:
        token = await mint_token(http)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=emu.base_url, headers=headers) as bearer:
            failed(await call(bearer, "list"), 401, Code.UNAUTHORIZED)


async def test_any_key_mode_isolates_each_key() -> None:
    async with Emulator(api_key=None) as emu, client_for(emu, "x") as x, client_for(emu, "y") as y:
        sid = (await new_session(x))["session_id"]
        assert ok(await call(y, "list"))["sessions"] == []
        failed(await call(y, "stop", {"session_id": sid}), 404, Code.SESSION_NOT_FOUND)


# -- fault injection ------------------------------------------------------------------


async def test_failures_are_consumed_in_order(emulator: Emulator, api_key: str) -> None:
    faults = emulator.faults
    faults.fail("new", 503, times=2, retry_after=2)
    faults.fail("list", 500, kind="garbage")
    faults.fail("streaming.list", kind="bad_envelope")
    faults.fail("list", kind="error_code")
    faults.fail("*", 429, retry_after=1)
    async with client_for(emulator, api_key) as http:
        for _ in range(2):
            response = await call(http, "new", {"quality": "low"})
            assert response.status_code == 503 and response.headers["Retry-After"] == "2"
            assert response.json()["code"] != Code.SUCCESS
        garbage = await call(http, "list")
        assert garbage.status_code == 500
        with pytest.raises(ValueError):
            garbage.json()
        bad = await call(http, "list")
        assert bad.status_code == 200 and bad.json()["data"] == "???"
        coded = await call(http, "list")
        assert coded.status_code == 200 and coded.json()["code"] == Code.INTERNAL
        limited = await call(http, "keep_alive", {"session_id": "x"})
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
        assert emulator.sessions == []  # failures before the handler have no side effect
        await new_session(http)
        assert not faults.fail_rules


async def test_fail_after_handling_keeps_side_effects(emulator: Emulator, api_key: str) -> None:
    emulator.faults.fail("new", 500, after=True)
    async with client_for(emulator, api_key) as http:
        assert (await call(http, "new", {"quality": "low"})).status_code == 500
        assert len(emulator.sessions) == 1


async def test_disconnect_and_delay(emulator: Emulator, api_key: str) -> None:
    emulator.faults.fail("list", kind="disconnect")
    emulator.faults.delay("keep_alive", 5, times=1)
    async with client_for(emulator, api_key) as http:
        with pytest.raises(httpx.TransportError):
            await call(http, "list")
        with pytest.raises(httpx.ReadTimeout):
            await call(http, "keep_alive", {"session_id": "x"}, timeout=0.2)
        ok(await call(http, "list"))
    emulator.faults.fail("new")
    emulator.faults.delay("new", 1)
    emulator.faults.clear()
    assert not emulator.faults.fail_rules and not emulator.faults.delay_rules


async def _next_stamped_index(client: RawClient) -> int:
    while True:
        stamp = read_stamp(await client.video.get())
        if stamp is not None:
            return stamp.index


@pytest.mark.timeout(40)
async def test_freeze_media_and_drop_all(emulator: Emulator, api_key: str) -> None:
    async with client_for(emulator, api_key) as http:
        client = RawClient(http)
        try:
            await client.connect()
            await asyncio.wait_for(_next_stamped_index(client), 10)
            assert emulator.faults.freeze_media() == 1
            session = emulator.sessions[0]
            sent = session.state.frames_sent
            # Nothing newer than the last frame produced before the freeze arrives.
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.8):
                    while await _next_stamped_index(client) < sent:
                        pass
            assert emulator.faults.unfreeze_media(session.session_id) == 1
            # Media resumes (the last frame sent before the freeze may be released by the
            # client's jitter buffer only now, when the next one arrives).
            async with asyncio.timeout(10):
                while await _next_stamped_index(client) < sent:
                    pass
            assert await emulator.faults.drop_all() == 1
            assert emulator.sessions == []
            failed(await call(http, "stop", {"session_id": client.session_id}), 404, 10005)
        finally:
            await client.close()


def test_cli_fault_specs() -> None:
    from heygen_streaming.emulator.faults import Faults, parse_fault_spec

    faults = Faults()
    for spec in ("new=500x2", "task=garbage", "*=delay:1.5x3", "list=429", "stop=disconnect"):
        parse_fault_spec(spec, faults)
    first = faults.take_failure("new")
    assert first is not None and (first.status, first.times) == (500, 1)
    assert faults.take_delay("keep_alive") == 1.5
    limited = faults.take_failure("list")
    assert limited is not None and limited.retry_after == 1.0
    for bad in ("new", "new=abc", "=500", "new=delay:x"):
        with pytest.raises(ValueError):
            parse_fault_spec(bad, faults)


async def test_task_modes_and_interrupt_during_tts() -> None:
    async with Emulator(api_key="k", tts_latency=1.0) as emu, client_for(emu, "k") as http:
        client = RawClient(http)
        try:
            await client.connect()
            session = emu.get_session(client.session_id)
            assert session is not None
            body = {"session_id": client.session_id, "text": "Hello"}
            ok(await call(http, "task", {**body, "task_mode": "async"}))
            assert not session.state.speech.talking  # still "synthesising"
            ok(await call(http, "interrupt", {"session_id": client.session_id}))
            ok(await call(http, "task", {**body, "task_mode": "sync"}))
            assert session.state.speech.talking  # sync answers once speech is queued
            # The async task was cut while preparing: only the sync one is queued.
            assert session.state.speech.interrupt() == 1
        finally:
            await client.close()


async def test_concurrent_creations_respect_the_limit() -> None:
    async with Emulator(api_key="k", max_sessions=2) as emu, client_for(emu, "k") as http:
        answers = await asyncio.gather(
            *(call(http, "new", {"quality": "low", "avatar_name": f"a{i}"}) for i in range(5))
        )
        codes = sorted(r.json()["code"] for r in answers)
        assert codes == [100, 100] + [Code.CONCURRENT_LIMIT] * 3
        assert len(emu.sessions) == 2


# -- hardening --------------------------------------------------------------------------


@pytest.mark.timeout(30)
async def test_slow_header_connections_are_dropped() -> None:
    """Connections dribbling their headers are closed; everyone else is still served."""
    async with Emulator(api_key="k", header_timeout=0.5) as emu, client_for(emu, "k") as http:
        port = int(emu.base_url.rsplit(":", 1)[1])
        slow = []
        for _ in range(50):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST /v1/streaming.list HTTP/1.1\r\nHost: x\r\nX-Api-Key: k\r\n")
            await writer.drain()
            slow.append((reader, writer))
        # Each call on its own connection: with a 0.5 s keep-alive, a pooled one could be
        # closed by the server just as httpx reuses it (the usual keep-alive race).
        fresh = {"headers": {"Connection": "close"}}
        try:
            ok(await call(http, "list", **fresh))
            async with asyncio.timeout(15):
                for reader, _ in slow:
                    assert await reader.read() == b""  # closed by the server
            ok(await call(http, "list", **fresh))
        finally:
            for _, writer in slow:
                writer.close()


@pytest.mark.timeout(30)
async def test_kept_alive_connections_get_the_header_deadline_too() -> None:
    """After a first request, idling or dribbling the next one's headers is bounded too
    (aiohttp's own keep-alive timeout is an hour: enough of these locked everyone out)."""
    async with Emulator(api_key="k", header_timeout=0.5) as emu:
        port = int(emu.base_url.rsplit(":", 1)[1])
        request = b"GET /v1/streaming.list HTTP/1.1\r\nHost: x\r\nX-Api-Key: k\r\n"
        held = []
        for dribble in (False, True):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request + b"\r\n")
            await reader.readuntil(b"\r\n\r\n")
            if dribble:
                writer.write(request)  # the next request, never finished
            held.append((reader, writer))
        try:
            async with asyncio.timeout(15):
                for reader, _ in held:
                    while await reader.read(65536):  # the first answer's body, then EOF
                        pass
        finally:
            for _, writer in held:
                writer.close()


async def test_auth_comes_before_faults(emulator: Emulator, api_key: str) -> None:
    """Unauthenticated requests do not consume injected faults."""
    emulator.faults.fail("list", 503)
    async with client_for(emulator, "wrong-key") as stranger, client_for(emulator, api_key) as me:
        for _ in range(3):
            failed(await call(stranger, "list"), 401, Code.UNAUTHORIZED)
        assert (await call(me, "list")).status_code == 503
        ok(await call(me, "list"))


async def test_hostile_paths_and_bodies_are_4xx(emulator: Emulator, api_key: str) -> None:
    async with client_for(emulator, api_key) as http:
        for path in ("/static/demo.js%00.html", "/static/%2e%2e%2fapp.py", "/static/a%0a.js"):
            response = await http.get(path)
            assert response.status_code == 404, (path, response.text)
        nested = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
        response = await http.post(
            "/v1/streaming.new", content=nested, headers={"Content-Type": "application/json"}
        )
        failed(response, 400, Code.INVALID_PARAMS)
        deep_list = b"[" * 200_000
        response = await http.post("/v1/streaming.new", content=deep_list)
        failed(response, 400, Code.INVALID_PARAMS)
        await new_session(http)  # still serving


async def test_cors_any_origin_when_a_key_is_required(emulator: Emulator, api_key: str) -> None:
    async with client_for(emulator, api_key) as http:
        for origin in ("https://demo.example", "http://127.0.0.1:5173"):
            response = await http.get("/v1/streaming.list", headers={"Origin": origin})
            assert response.headers["Access-Control-Allow-Origin"] == "*"


async def test_cors_loopback_origins_only_in_any_key_mode() -> None:
    async with Emulator(api_key=None) as emu, client_for(emu, "anything") as http:
        for origin in ("http://127.0.0.1:5173", "http://localhost:8080", "http://[::1]:3000"):
            response = await http.get("/v1/streaming.list", headers={"Origin": origin})
            assert response.headers["Access-Control-Allow-Origin"] == origin
            assert "Origin" in response.headers["Vary"]
        for origin in ("https://evil.example", "http://127.0.0.1.evil.example", "null"):
            response = await http.get("/v1/streaming.list", headers={"Origin": origin})
            assert "Access-Control-Allow-Origin" not in response.headers
            preflight = await http.options(
                "/v1/streaming.new",
                headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
            )
            assert "Access-Control-Allow-Origin" not in preflight.headers


@pytest.mark.timeout(40)
async def test_task_queue_is_bounded_per_session() -> None:
    async with (
        Emulator(api_key="k", max_queued_tasks=3, tts_latency=0) as emu,
        client_for(emu, "k") as http,
    ):
        client = RawClient(http)
        try:
            await client.connect()
            body = {"session_id": client.session_id, "text": "x" * 200, "task_mode": "async"}
            for _ in range(3):
                ok(await call(http, "task", body))
            message = failed(await call(http, "task", body), 429, Code.RATE_LIMIT)
            assert "rate limit" in message.lower()
            session = emu.get_session(client.session_id)
            assert session is not None and session.queued_tasks == 3
            ok(await call(http, "interrupt", {"session_id": client.session_id}))
            ok(await call(http, "task", body))  # room again
        finally:
            await client.close()


async def test_any_key_mode_has_a_global_session_cap() -> None:
    async with (
        Emulator(api_key=None, max_total_sessions=2) as emu,
        client_for(emu, "a") as a,
        client_for(emu, "b") as b,
        client_for(emu, "c") as c,
    ):
        await new_session(a)
        await new_session(b)
        message = failed(await call(c, "new", {"quality": "low"}), 400, Code.CONCURRENT_LIMIT)
        assert "oncurrent" in message
        assert len(emu.sessions) == 2


@pytest.mark.timeout(30)
async def test_connections_waiting_for_headers_are_bounded() -> None:
    """Beyond ``max_pending`` connections still sending headers, the oldest is dropped."""
    from aiohttp import web

    from heygen_streaming.emulator.listener import HeaderDeadlineSite

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = HeaderDeadlineSite(runner, "127.0.0.1", 0, header_timeout=60, max_pending=5)
    await site.start()
    conns = []
    try:
        for _ in range(8):
            conn = await asyncio.open_connection("127.0.0.1", site.bound_port)
            conn[1].write(b"GET / HTTP/1.1\r\nHost: x\r\n")
            await conn[1].drain()
            conns.append(conn)
        async with asyncio.timeout(10):
            for reader, _ in conns[:3]:  # the three oldest made room
                assert await reader.read() == b""
        reader, writer = conns[-1]
        writer.write(b"\r\n")  # the newest finishes its headers and is served
        async with asyncio.timeout(10):
            assert (await reader.readline()).startswith(b"HTTP/1.1 200")
    finally:
        for _, writer in conns:
            writer.close()
        await runner.cleanup()
