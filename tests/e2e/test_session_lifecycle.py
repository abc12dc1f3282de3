"""Session lifecycle end to end: cleanup on every exit path, watchdog, deadlines, leaks."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import subprocess
import sys
import threading

import psutil
import pytest

from heygen_streaming import (
    APIError,
    ConnectTimeout,
    EndReason,
    Session,
    SessionClosed,
    SessionEnded,
    SessionNotStopped,
    SessionState,
    StreamingClient,
)
from heygen_streaming.emulator import Emulator

from ._session_util import WAIT, VideoOnlyServer, emulator_process, make_client

pytestmark = pytest.mark.timeout(120)


async def test_zero_sessions_after_normal_exit_exception_and_cancel(
    emulator: Emulator, api_key: str
) -> None:
    async with make_client(emulator.base_url, api_key) as client:
        async with client.session(quality="low", connect_timeout=WAIT) as s:
            assert len(emulator.sessions) == 1
        assert s.state == "closed" and emulator.sessions == []

        with pytest.raises(ZeroDivisionError):
            async with client.session(quality="low", connect_timeout=WAIT) as s:
                1 / 0  # noqa: B018
        assert emulator.sessions == []

        entered = asyncio.Event()

        async def run() -> None:
            async with client.session(quality="low", connect_timeout=WAIT) as s:
                entered.set()
                async for _ in s.video():
                    pass

        task = asyncio.ensure_future(run())
        await asyncio.wait_for(entered.wait(), WAIT)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert emulator.sessions == []

        # cancelled while connecting (streaming.start held back by the emulator)
        emulator.faults.delay("start", 60, times=1)
        task = asyncio.ensure_future(client.session(quality="low", connect_timeout=WAIT).connect())
        async with asyncio.timeout(WAIT):
            while not emulator.sessions:  # noqa: ASYNC110 - polls the emulator's registry
                await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await emulator.wait_no_sessions(within=WAIT)


async def test_session_refuses_reuse(emulator: Emulator, api_key: str) -> None:
    async with make_client(emulator.base_url, api_key) as client:
        session = client.session(quality="low", connect_timeout=WAIT)
        async with session as s:
            pass
        with pytest.raises(SessionClosed, match="single use"):
            async with session:
                pass
        for call in (s.speak("x"), s.interrupt(), s.keep_alive()):
            with pytest.raises(SessionClosed):
                await call
        with pytest.raises(SessionClosed):
            s.video()
        await s.aclose()  # idempotent


async def test_frozen_media_trips_the_watchdog(emulator: Emulator, api_key: str) -> None:
    loop = asyncio.get_running_loop()
    async with make_client(emulator.base_url, api_key) as client:
        async with client.session(quality="low", connect_timeout=WAIT, watchdog_timeout=2.0) as s:
            video, events = s.video(), s.events()
            await asyncio.wait_for(anext(video), WAIT)
            assert emulator.faults.freeze_media(s.session_id) == 1
            frozen_at = loop.time()
            with pytest.raises(SessionClosed) as info:
                async with asyncio.timeout(WAIT):
                    async for _ in video:
                        pass
            assert info.value.reason == "watchdog"
            assert loop.time() - frozen_at >= 2.0 - 0.5  # not before the watchdog time
            ended = [e async for e in events if isinstance(e, SessionEnded)]
            assert ended[0].reason == "watchdog" and ended[0].abnormal
            with pytest.raises(SessionClosed):
                await s.speak("too late")
        assert emulator.sessions == []  # the exit still stopped it on the server


async def test_server_idle_timeout_ends_session_unless_kept_alive(api_key: str) -> None:
    async with (
        Emulator(api_key=api_key, port=0, idle_timeout=2.0) as emu,
        make_client(emu.base_url, api_key) as client,
    ):
        async with client.session(
            quality="low", connect_timeout=WAIT, keep_alive_interval=0.5
        ) as kept:
            video = kept.video(capacity=200)
            async with asyncio.timeout(WAIT):
                for _ in range(100):  # ~4 s, twice the idle timeout
                    await anext(video)
            assert kept.state == "connected"

        async with client.session(quality="low", connect_timeout=WAIT) as idle:
            with pytest.raises(SessionClosed) as info:
                async with asyncio.timeout(WAIT):
                    async for _ in idle.video():
                        pass
            assert info.value.reason in ("remote_closed", "connection_failed", "watchdog")


async def test_killed_emulator_gives_session_closed(api_key: str) -> None:
    loop = asyncio.get_running_loop()
    async with (
        emulator_process(api_key) as (url, proc),
        make_client(url, api_key, max_retries=0, timeout=5.0) as client,
    ):
        with pytest.raises(SessionClosed) as info:
            async with client.session(
                quality="low", connect_timeout=WAIT, watchdog_timeout=3.0, stop_timeout=3.0
            ) as s:
                video = s.video()
                await asyncio.wait_for(anext(video), WAIT)
                proc.send_signal(signal.SIGKILL)
                killed_at = loop.time()
                async with asyncio.timeout(WAIT):
                    async for _ in video:
                        pass
        # the SessionClosed from the stream is not masked by the failing streaming.stop
        assert info.value.reason in ("watchdog", "remote_closed", "connection_failed")
        assert loop.time() - killed_at < WAIT


async def test_answer_never_applied_gives_connect_timeout(emulator: Emulator, api_key: str) -> None:
    emulator.faults.delay("start", 60, times=1)
    loop = asyncio.get_running_loop()
    async with make_client(emulator.base_url, api_key) as client:
        started = loop.time()
        with pytest.raises(ConnectTimeout):
            async with client.session(quality="low", connect_timeout=3.0):
                pytest.fail("must not connect")
        assert loop.time() - started < 3.0 + 10.0  # deadline + bounded stop/close
    await emulator.wait_no_sessions(within=WAIT)


def _snapshot() -> tuple[set[asyncio.Task[object]], set[str], int]:
    gc.collect()
    tasks = {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}
    threads = {t.name for t in threading.enumerate() if "decoder" in t.name or "recorder" in t.name}
    return tasks, threads, psutil.Process().num_fds()


async def test_no_leaked_tasks_threads_or_fds(api_key: str, tmp_path: object) -> None:
    async with (
        emulator_process(api_key) as (url, _proc),
        make_client(url, api_key) as client,
    ):

        async def cycle(i: int) -> None:
            async with client.session(quality="low", connect_timeout=WAIT) as s:
                await asyncio.wait_for(anext(s.video()), WAIT)
                await s.speak("hi")
                await s.record(f"{tmp_path}/r{i}.mp4", duration=0.5)
                await s.stats()

        await cycle(0)  # warm up: connection pool, executors
        tasks0, threads0, fds0 = _snapshot()
        assert threads0 == set()
        for i in range(1, 4):
            await cycle(i)
        tasks1, threads1, fds1 = _snapshot()
        assert tasks1 - tasks0 == set()
        assert threads1 == set()  # aiortc decoder threads and recorder threads are gone
        udp = [c for c in psutil.Process().net_connections(kind="udp")]
        assert udp == []
        assert fds1 <= fds0
        sessions = await client.list_sessions()
        assert sessions == []


async def test_unreachable_stun_server_still_connects(api_key: str) -> None:
    # A black-holed STUN server: aioice would wait 5 s for it; ice_gather_timeout bounds that.
    unreachable = [{"urls": ["stun:10.255.255.1:3478"]}]
    async with (
        Emulator(api_key=api_key, port=0, ice_servers=unreachable) as emu,
        make_client(emu.base_url, api_key) as client,
        client.session(quality="low", connect_timeout=WAIT, ice_gather_timeout=1.0) as s,
    ):
        assert s.info.ice_servers2 or s.info.ice_servers
        await asyncio.wait_for(anext(s.video()), WAIT)


async def test_start_error_is_raised_as_is_and_session_stopped(
    emulator: Emulator, api_key: str
) -> None:
    emulator.faults.fail("start", 400, times=1)
    async with make_client(emulator.base_url, api_key) as client:
        with pytest.raises(APIError) as info:
            async with client.session(quality="low", connect_timeout=WAIT):
                pytest.fail("must not connect")
        assert info.value.endpoint == "streaming.start"  # not wrapped in an ExceptionGroup
    await emulator.wait_no_sessions(within=WAIT)


async def test_wait_connected_from_another_task_wakes_on_connect_and_on_close(
    emulator: Emulator, api_key: str
) -> None:
    async with make_client(emulator.base_url, api_key) as client:
        s = client.session(quality="low", connect_timeout=WAIT)
        waiter = asyncio.ensure_future(s.wait_connected())  # waits before connect starts
        await s.connect()
        await asyncio.wait_for(waiter, 10)
        assert s.state is SessionState.CONNECTED
        await s.aclose()

        never = client.session(quality="low")
        waiter = asyncio.ensure_future(never.wait_connected())
        await never.aclose()
        with pytest.raises(SessionClosed):
            await asyncio.wait_for(waiter, 10)
        assert never.state is SessionState.CLOSED and never.end_reason is EndReason.CLOSED


async def test_wait_connected_wakes_for_a_video_only_offer() -> None:
    server = VideoOnlyServer()
    try:
        s = Session(server, connect_timeout=WAIT)  # type: ignore[arg-type]
        waiter = asyncio.ensure_future(s.wait_connected())  # waits before connect starts
        await s.connect()
        await asyncio.wait_for(waiter, 10)  # no audio track will wake it a second time
        await s.aclose()
        assert server.stopped == [s.session_id]
    finally:
        await server.aclose()


async def test_state_transitions_are_logged_once_each_without_the_key(
    emulator: Emulator, api_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="heygen_streaming")
    async with (
        make_client(emulator.base_url, api_key) as client,
        client.session(quality="low", connect_timeout=WAIT) as s,
    ):
        pass
    lines = [r.getMessage() for r in caplog.records if " -> " in r.getMessage()]
    assert lines == [
        "session (no id yet): new -> connecting",
        f"session {s.session_id}: connecting -> connected",
        f"session {s.session_id}: connected -> closing (closed)",
        f"session {s.session_id}: closing -> closed (closed)",
    ]
    assert api_key not in caplog.text


async def test_client_aclose_stops_its_open_sessions(emulator: Emulator, api_key: str) -> None:
    client = StreamingClient(api_key=api_key, base_url=emulator.base_url)
    s = client.session(quality="low", connect_timeout=WAIT)
    await s.connect()
    assert len(emulator.sessions) == 1
    await client.aclose()
    assert s.state is SessionState.CLOSED
    assert emulator.sessions == []


UNCLOSED = """
import asyncio, gc, sys, warnings
warnings.simplefilter("always", ResourceWarning)
from heygen_streaming import StreamingClient

async def main():
    client = StreamingClient(api_key=sys.argv[2], base_url=sys.argv[1])
    s = client.session(quality="low", connect_timeout=30)
    await s.connect()
    print("ID", s.session_id, flush=True)

asyncio.run(main())
gc.collect()
"""


async def test_an_unclosed_session_warns_with_its_id(emulator: Emulator, api_key: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", UNCLOSED, emulator.base_url, api_key,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), WAIT)
    session_id = out.decode().split()[-1]
    assert "ResourceWarning: unclosed Session " + session_id in err.decode()
    assert f"heygen-streaming sessions stop {session_id}" in err.decode()


async def test_a_dead_session_is_stopped_at_once(emulator: Emulator, api_key: str) -> None:
    async with (
        make_client(emulator.base_url, api_key) as client,
        client.session(quality="low", connect_timeout=WAIT, watchdog_timeout=1.0) as s,
    ):
        video = s.video()
        await asyncio.wait_for(anext(video), WAIT)
        emulator.faults.freeze_media(s.session_id)
        with pytest.raises(SessionClosed):
            async with asyncio.timeout(WAIT):
                async for _ in video:
                    pass
        assert s.end_reason is EndReason.WATCHDOG
        # still inside the block: the stop was sent when the session died
        await emulator.wait_no_sessions(within=10)


async def test_connect_deadline_holds_while_streaming_new_is_slow(
    emulator: Emulator, api_key: str
) -> None:
    emulator.faults.delay("new", 5.0, times=1)
    loop = asyncio.get_running_loop()
    async with make_client(emulator.base_url, api_key) as client:
        started = loop.time()
        with pytest.raises(ConnectTimeout):
            async with client.session(quality="low", connect_timeout=1.5, stop_timeout=10):
                pytest.fail("must not connect")
        # not connect_timeout + the rest of streaming.new (5 s): that one is stopped later
        assert loop.time() - started < 1.5 + 2.0
    # the client waited, on exit, for the late session to be created and stopped
    assert emulator.sessions == []


async def test_an_unconfirmed_stop_names_the_session_and_the_command(
    emulator: Emulator, api_key: str
) -> None:
    emulator.faults.fail("stop", 500, times=100)
    async with make_client(emulator.base_url, api_key, max_retries=0) as client:
        with pytest.raises(SessionNotStopped) as info:
            async with client.session(quality="low", connect_timeout=WAIT, stop_timeout=2) as s:
                pass
        command = f"heygen-streaming sessions stop {s.session_id}"
        assert info.value.session_id == s.session_id and info.value.command == command
        assert command in str(info.value)
        assert s.stop_error is info.value

        with pytest.raises(ZeroDivisionError) as error:
            async with client.session(quality="low", connect_timeout=WAIT, stop_timeout=2) as s2:
                1 / 0  # noqa: B018
        assert f"heygen-streaming sessions stop {s2.session_id}" in "".join(
            getattr(error.value, "__notes__", [])
        )
        emulator.faults.clear()
        await client.stop_session(s.session_id)
        await client.stop_session(s2.session_id)


DOUBLE_CTRL_C = """
import asyncio, signal, sys
from heygen_streaming import StreamingClient

signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored

async def main():
    async with StreamingClient(api_key=sys.argv[2], base_url=sys.argv[1]) as client:
        async with client.session(quality="low", connect_timeout=30, stop_timeout=10) as s:
            print("ID", s.session_id, flush=True)
            await asyncio.Event().wait()

try:
    asyncio.run(main())
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


async def test_a_second_ctrl_c_cannot_abort_the_stop(emulator: Emulator, api_key: str) -> None:
    # The first stop is held for a minute: only a stop sent again after the second
    # interrupt (asyncio.run cancels every task) ends the session in time.
    emulator.faults.delay("stop", 60, times=1)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", DOUBLE_CTRL_C, emulator.base_url, api_key,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), WAIT)
        assert line.startswith(b"ID ")
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(WAIT):
            while emulator.faults.delay_rules:  # noqa: ASYNC110 - until the stop is held
                await asyncio.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, _ = await asyncio.wait_for(proc.communicate(), WAIT)
        assert b"interrupted" in out
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    await emulator.wait_no_sessions(within=10)


async def test_aclose_from_another_task_while_connecting(emulator: Emulator, api_key: str) -> None:
    emulator.faults.delay("start", 60, times=1)
    async with make_client(emulator.base_url, api_key) as client:
        s = client.session(quality="low", connect_timeout=WAIT)
        connecting = asyncio.ensure_future(s.connect())
        async with asyncio.timeout(WAIT):
            while not emulator.sessions:  # noqa: ASYNC110 - polls the emulator's registry
                await asyncio.sleep(0.02)
        await s.aclose()
        with pytest.raises(SessionClosed):
            await asyncio.wait_for(connecting, WAIT)
        assert s.state is SessionState.CLOSED and s.end_reason is EndReason.CLOSED
    await emulator.wait_no_sessions(within=WAIT)


INTERRUPTED_PEER_CLOSE = """
import asyncio, sys
from aiortc import RTCRtpReceiver
from heygen_streaming import StreamingClient

stop = RTCRtpReceiver.stop
stopped = []

async def stop_then_ctrl_c(self):
    # A second Ctrl-C landing while the peer closes: after the first receiver stopped,
    # KeyboardInterrupt ends the loop; asyncio.run cancels every other task.
    if stopped:
        raise KeyboardInterrupt
    stopped.append(self)
    await stop(self)

RTCRtpReceiver.stop = stop_then_ctrl_c

async def main():
    client = StreamingClient(api_key=sys.argv[2], base_url=sys.argv[1])
    async with client.session(quality="low", connect_timeout=30):
        pass

try:
    asyncio.run(main())
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


async def test_an_interrupted_peer_close_leaves_no_thread_to_hang_the_exit(
    emulator: Emulator, api_key: str
) -> None:
    """aiortc's decoder threads are not daemons, and aiortc stops them only in a finished
    close or on a transport error: a close cut short used to hang the process at exit."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", INTERRUPTED_PEER_CLOSE, emulator.base_url, api_key,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), WAIT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert out.decode().split() == ["interrupted"], err.decode()[-2000:]
