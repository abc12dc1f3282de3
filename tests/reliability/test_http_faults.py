"""Injected HTTP faults (emulator fault switches) on every endpoint and inside session()."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from heygen_streaming import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ConnectTimeout,
    HeyGenError,
    InternalServerError,
    RateLimitError,
    ResponseValidationError,
    SessionClosed,
    SessionNotStopped,
    StreamingClient,
)
from heygen_streaming.emulator import Emulator

from ._leaks import API_KEY, Snapshot
from ._tamper import TamperTransport

Call = Callable[[StreamingClient], Awaitable[Any]]
CALLS: dict[str, Call] = {
    "new": lambda c: c.new_session(quality="low"),
    "start": lambda c: c.start_session("sid", "v=0\r\n"),
    "ice": lambda c: c.submit_ice("sid", {"candidate": ""}),
    "task": lambda c: c.send_task("sid", "hello"),
    "interrupt": lambda c: c.interrupt("sid"),
    "keep_alive": lambda c: c.keep_alive("sid"),
    "stop": lambda c: c.stop_session("sid"),
    "list": lambda c: c.list_sessions(),
    "create_token": lambda c: c.create_token(),
}
RETURNS_DATA = {"new", "task", "list", "create_token"}
FAULTS: dict[str, tuple[str, int, type[HeyGenError]]] = {
    "500": ("error", 500, InternalServerError),
    "503": ("error", 503, InternalServerError),
    "429": ("error", 429, RateLimitError),
    "garbage-200": ("garbage", 200, ResponseValidationError),
    "garbage-502": ("garbage", 502, InternalServerError),
    "bad-envelope": ("bad_envelope", 200, ResponseValidationError),
    "error-code": ("error_code", 200, APIError),
    "disconnect": ("disconnect", 200, APIConnectionError),
}


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(api_key=API_KEY, port=0) as server:
        yield server


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_every_endpoint_maps_faults_to_typed_errors(emu: Emulator, fault: str) -> None:
    kind, status, expected = FAULTS[fault]
    before = Snapshot.take()
    async with StreamingClient(api_key=API_KEY, base_url=emu.base_url, max_retries=0) as c:
        for name, call in CALLS.items():
            emu.faults.fail(name, status, kind=kind)  # type: ignore[arg-type]
            if kind == "bad_envelope" and name not in RETURNS_DATA:
                await call(c)  # endpoints without data ignore it
                continue
            with pytest.raises(expected) as info:
                await call(c)
            if isinstance(info.value, APIError) and kind == "error":
                assert info.value.status == status and info.value.endpoint == f"streaming.{name}"
    assert emu.faults.fail_rules == []
    assert emu.sessions == []
    await before.assert_no_leaks()


async def test_idempotent_calls_retry_and_costly_ones_do_not(
    emu: Emulator, backoff_delays: list[float]
) -> None:
    transport = TamperTransport()
    async with (
        httpx.AsyncClient(transport=transport) as http,
        StreamingClient(api_key=API_KEY, base_url=emu.base_url, http_client=http) as c,
    ):
        emu.faults.fail("list", 503, times=2)
        assert await c.list_sessions() == []
        assert transport.calls.count("streaming.list") == 3
        emu.faults.fail("list", 429, retry_after=1.0)
        await c.list_sessions()
        assert 1.0 in backoff_delays  # Retry-After honoured
        for name in ("new", "task"):
            emu.faults.fail(name, 503)
            with pytest.raises(InternalServerError):
                await CALLS[name](c)
            assert transport.calls.count(f"streaming.{name}") == 1
    assert emu.sessions == []


# Not "new": a server that answers streaming.new after the client gave up still creates the
# session, whose id the client never learns; only the service's idle timeout reclaims it.
@pytest.mark.parametrize("endpoint", ["list", "task", "keep_alive"])
async def test_slow_response_raises_api_timeout(emu: Emulator, endpoint: str) -> None:
    emu.faults.delay(endpoint, 2.0, times=1)
    async with StreamingClient(api_key=API_KEY, base_url=emu.base_url, timeout=0.5) as c:
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            await CALLS[endpoint](c)
        assert time.monotonic() - started < 1.5
    assert emu.sessions == []


SESSION_FAULTS = [
    ("new", "error", 500),
    ("new", "error", 429),
    ("new", "garbage", 200),
    ("new", "disconnect", 200),
    ("start", "error", 500),
    ("start", "error", 503),
    ("start", "garbage", 200),
    ("start", "disconnect", 200),
    ("ice", "error", 500),
    ("ice", "garbage", 200),
]


@pytest.mark.parametrize(("endpoint", "kind", "status"), SESSION_FAULTS)
async def test_session_connect_faults(emu: Emulator, endpoint: str, kind: str, status: int) -> None:
    before = Snapshot.take()
    emu.faults.fail(endpoint, status, kind=kind, times=10)  # type: ignore[arg-type]
    async with StreamingClient(api_key=API_KEY, base_url=emu.base_url, max_retries=0) as c:
        started = time.monotonic()
        try:
            async with c.session(quality="low", connect_timeout=10.0) as s:
                # A failed streaming.ice is tolerated: the answer SDP carries the candidates.
                assert endpoint == "ice"
                async for _ in s.video():
                    break
        except HeyGenError as exc:
            assert endpoint != "ice", exc
            assert not isinstance(exc, ConnectTimeout), "should fail fast, not time out"
        assert time.monotonic() - started < 10.0
    emu.faults.clear()
    await emu.wait_no_sessions(within=5.0)
    await before.assert_no_leaks(fd_slack=1)


async def test_slow_start_past_connect_timeout(emu: Emulator) -> None:
    before = Snapshot.take()
    emu.faults.delay("start", 4.0, times=1)
    async with StreamingClient(api_key=API_KEY, base_url=emu.base_url) as c:
        started = time.monotonic()
        with pytest.raises(ConnectTimeout):
            async with c.session(quality="low", connect_timeout=1.5):
                pytest.fail("connected")
        assert time.monotonic() - started < 1.5 + 3.0
    await emu.wait_no_sessions(within=8.0)
    await before.assert_no_leaks(fd_slack=1)


async def test_task_fault_keeps_session_usable(emu: Emulator) -> None:
    async with (
        StreamingClient(api_key=API_KEY, base_url=emu.base_url, max_retries=0) as c,
        c.session(quality="low") as s,
    ):
        video = s.video()
        for kind, status, expected in (
            ("error", 500, InternalServerError),
            ("error", 429, RateLimitError),
            ("garbage", 200, ResponseValidationError),
        ):
            emu.faults.fail("task", status, kind=kind)  # type: ignore[arg-type]
            with pytest.raises(expected):
                await s.speak("hello")
        assert (await s.speak("hello")).task_id
        assert await anext(aiter(video)) is not None
    await emu.wait_no_sessions(within=5.0)


async def test_stop_fault_on_exit_is_logged_and_raised_naming_the_session(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="heygen_streaming")
    before = Snapshot.take()
    async with StreamingClient(api_key=API_KEY, base_url=emu.base_url, max_retries=0) as c:
        with pytest.raises(SessionNotStopped, match="heygen-streaming sessions stop"):
            async with c.session(quality="low") as s:
                sid = s.session_id
                emu.faults.fail("stop", 500)
        assert f"streaming.stop failed: streaming.stop was not confirmed for session {sid}" in (
            caplog.text
        )
        # The server kept the session (its stop failed): reclaim it for the next test.
        assert [x.session_id for x in emu.sessions] == [sid]
        await c.stop_session(sid)
    await before.assert_no_leaks(fd_slack=1)


@pytest.mark.parametrize("how", ["freeze", "drop"])
async def test_media_vanishes_raises_session_closed(emu: Emulator, how: str) -> None:
    before = Snapshot.take()
    async with StreamingClient(api_key=API_KEY, base_url=emu.base_url) as c:
        with pytest.raises(SessionClosed):
            async with c.session(quality="low", watchdog_timeout=2.0) as s:
                started = 0.0
                frames = 0
                async for _ in s.video():
                    frames += 1
                    if frames == 5:
                        if how == "freeze":
                            assert emu.faults.freeze_media(s.session_id) == 1
                        else:
                            assert await emu.faults.drop_all() == 1
                        started = time.monotonic()
        assert started and time.monotonic() - started < 2.0 + 3.0
    emu.faults.clear()
    await emu.wait_no_sessions(within=5.0)
    await before.assert_no_leaks(fd_slack=1)


@pytest.mark.parametrize("kind", ["error", "disconnect"])
async def test_retried_start_and_stop_after_they_landed_count_as_success(
    emu: Emulator, backoff_delays: list[float], caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    """start and stop are handled, then the answer is lost (502 / dropped connection): the
    retry's "already started" / "not found" means the first attempt worked."""
    caplog.set_level(logging.WARNING, logger="heygen_streaming")
    emu.faults.fail("start", 502, kind=kind, after=True)  # type: ignore[arg-type]
    emu.faults.fail("stop", 502, kind=kind, after=True)  # type: ignore[arg-type]
    async with StreamingClient(api_key=API_KEY, base_url=emu.base_url) as c:
        async with c.session(quality="low") as s:
            await s.wait_connected()
            assert [x.session_id for x in emu.sessions] == [s.session_id]
        assert emu.sessions == []
        assert len(backoff_delays) == 2  # one retry each
        assert not [r for r in caplog.records if "stop" in r.getMessage()], caplog.text
