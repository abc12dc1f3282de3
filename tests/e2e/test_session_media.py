"""Session media end to end: SDK <-> emulator over loopback with real aiortc peers."""

from __future__ import annotations

import asyncio
import itertools

import numpy as np
import pytest

from heygen_streaming import (
    ConnectionStateChanged,
    MediaStarted,
    Quality,
    SessionEnded,
    StreamingClient,
)
from heygen_streaming.emulator import Emulator, read_stamp

from ._session_util import WAIT, make_client, rms

pytestmark = pytest.mark.timeout(90)


async def test_first_frame_and_stamps_in_order(emulator: Emulator, api_key: str) -> None:
    async with (
        make_client(emulator.base_url, api_key) as client,
        client.session(quality="low", connect_timeout=WAIT) as s,
    ):
        assert s.state == "connected"
        assert s.info.session_id == s.session_id
        await s.wait_connected()  # returns at once
        video = s.video(capacity=30)
        indices = []
        async with asyncio.timeout(WAIT):
            while len(indices) < 50:
                frame = await anext(video)
                assert (frame.width, frame.height) == (640, 360)
                stamp = read_stamp(frame)
                if stamp is not None:
                    indices.append(stamp.index)
        assert indices == sorted(indices) and len(set(indices)) == len(indices)
        gaps = sum(b - a - 1 for a, b in itertools.pairwise(indices))
        stats = await s.stats()
        if stats.video.packets_lost == 0:
            assert gaps <= video.dropped  # nothing lost: every gap was a counted drop
        assert stats.video.first_frame_after is not None
        assert 0 < stats.video.first_frame_after < WAIT


async def test_speech_energy_after_speak_and_wait(emulator: Emulator, api_key: str) -> None:
    async with (
        make_client(emulator.base_url, api_key) as client,
        client.session(quality=Quality.LOW, connect_timeout=WAIT) as s,
    ):
        audio = s.audio(capacity=500)
        idle = [rms(await asyncio.wait_for(anext(audio), WAIT)) for _ in range(25)]
        loop = asyncio.get_running_loop()
        started = loop.time()
        task = await s.speak("Hello, this is the session test speaking.", wait=True)
        elapsed = loop.time() - started
        assert task.task_id and task.duration_ms and task.duration_ms > 500
        assert elapsed >= task.duration_ms / 1000 * 0.9  # waited for the speech
        assert elapsed < task.duration_ms / 1000 + WAIT
        spoken = [rms(f) for f in audio._ring.items()]
        assert spoken and max(spoken) > 10 * max(max(idle), 1e-4)


async def test_interrupt_cuts_speech(emulator: Emulator, api_key: str) -> None:
    async with (
        make_client(emulator.base_url, api_key) as client,
        client.session(quality="low", connect_timeout=WAIT) as s,
    ):
        audio = s.audio(capacity=500)
        long_text = "This sentence is long enough to keep the avatar talking for a while. " * 6
        waiter = asyncio.ensure_future(s.speak(long_text, wait=True))
        peak = 0.0
        async with asyncio.timeout(WAIT):
            while peak < 0.05:
                peak = max(peak, rms(await anext(audio)))
        assert not waiter.done()
        await s.interrupt()
        async with asyncio.timeout(WAIT):
            task = await waiter  # an interrupt ends speak(wait=True) early
        assert task.duration_ms and task.duration_ms > 10_000
        after = s.audio(capacity=500)
        levels = [rms(await asyncio.wait_for(anext(after), WAIT)) for _ in range(100)]
        # two seconds after the interrupt: the second second is quiet (the speech would go on)
        assert float(np.mean(levels[50:])) < peak / 10


async def test_two_consumers_see_the_same_frames(emulator: Emulator, api_key: str) -> None:
    async with (
        make_client(emulator.base_url, api_key) as client,
        client.session(quality="low", connect_timeout=WAIT) as s,
    ):
        a, b = s.video(capacity=100), s.video(capacity=100)

        async def read(stream: object, n: int) -> list[int]:
            out: list[int] = []
            async with asyncio.timeout(WAIT):
                while len(out) < n:
                    stamp = read_stamp(await anext(stream))  # type: ignore[call-overload]
                    out.append(stamp.index if stamp else -1)
            return out

        first, second = await asyncio.gather(read(a, 30), read(b, 30))
        assert first == second
        assert a.dropped == b.dropped == 0


async def test_slow_consumer_drops_and_stays_bounded(emulator: Emulator, api_key: str) -> None:
    async with (
        make_client(emulator.base_url, api_key) as client,
        client.session(quality="low", connect_timeout=WAIT, video_capacity=4) as s,
    ):
        slow = s.video()  # never read during the test
        fast = s.video(capacity=100)
        async with asyncio.timeout(WAIT):
            for _ in range(60):
                await anext(fast)
                assert len(slow) <= 4
        assert slow.capacity == 4
        assert slow.dropped >= 60 - 4
        assert slow.dropped + len(slow) == slow.received
        # aiortc's own (unbounded) track queues are drained by the pump
        for receiver in s._core.connector.peer.pc.getReceivers():  # type: ignore[union-attr]
            assert receiver.track._queue.qsize() < 10
        stats = await s.stats()
        assert stats.video.frames_dropped >= slow.dropped
        # a slow stream does not slow the session: no drops on the fast one
        assert fast.dropped == 0 or fast.dropped < slow.dropped


async def test_stats_are_non_zero(emulator: Emulator, api_key: str) -> None:
    async with (
        make_client(emulator.base_url, api_key) as client,
        client.session(quality="low", connect_timeout=WAIT) as s,
    ):
        video = s.video()
        async with asyncio.timeout(WAIT):
            for _ in range(30):
                await anext(video)
        stats = await s.stats()
        for kind in (stats.video, stats.audio):
            assert kind.packets_received > 0
            assert kind.bytes_received > 0
            assert kind.frames_decoded > 0
            assert kind.fps > 0
            assert kind.jitter >= 0
            assert kind.ssrc is not None
        assert stats.connection_state == "connected"
        assert stats.transport_bytes_received >= stats.video.bytes_received


async def test_events_report_states_media_and_close(emulator: Emulator, api_key: str) -> None:
    async with make_client(emulator.base_url, api_key) as client:
        s = client.session(quality="low", connect_timeout=WAIT)
        await s.connect()
        events = s.events()  # opened after connecting: the history is replayed
        await s.aclose()
        got = [e async for e in events]
        kinds = {type(e) for e in got}
        assert {ConnectionStateChanged, MediaStarted, SessionEnded} <= kinds
        assert isinstance(got[-1], SessionEnded) and got[-1].reason == "closed"
        assert not got[-1].abnormal
        states = [e.state for e in got if isinstance(e, ConnectionStateChanged)]
        assert "connected" in states


async def test_public_api_tour_runs_as_written(emulator: Emulator, api_key: str) -> None:
    """Every high-level call of the public API in one session, a break in each endless loop."""
    client = StreamingClient(api_key=api_key, base_url=emulator.base_url)
    async with client:
        async with client.session(
            avatar="...", voice="...", quality="low", connect_timeout=15.0
        ) as s:  # Session
            s.session_id, s.info  # the streaming.new data  # noqa: B018
            await s.wait_connected()  # returns at once if already connected
            task = await s.speak("text")  # -> TaskInfo (task_id, duration_ms)
            await s.speak("text", wait=True)  # returns when the avatar finished talking
            await s.interrupt()
            async for f in s.video():  # av.VideoFrame, bounded, drop-oldest  # noqa: B007
                break
            async for f in s.audio():  # av.AudioFrame  # noqa: B007
                break
            async for ev in s.events():  # typed events  # noqa: B007
                break
            await s.record(str(emulator_tmp(emulator)), duration=1.0)
            stats = await s.stats()  # typed inbound RTP stats (packets, lost, jitter, fps)
            s.state, s.end_reason  # SessionState / EndReason enums  # noqa: B018
        assert s.state == "closed" and s.end_reason == "closed"
        assert task.task_id and f is not None and stats.video.packets_received > 0
    await emulator.wait_no_sessions(within=WAIT)


def emulator_tmp(emulator: Emulator) -> object:
    import pathlib
    import tempfile

    return pathlib.Path(tempfile.mkdtemp(prefix="hg-snippet-")) / "out.mp4"
