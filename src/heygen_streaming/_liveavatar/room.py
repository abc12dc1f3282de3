"""The session's LiveKit room, joined with the official ``livekit`` client (no LiveKit code
of our own): the avatar's tracks pumped into the fan-outs, the FULL data topics, the
user's microphone, and a disconnect that cannot leak a room.

Only public ``livekit.rtc`` names are used. The client's ``Room.connect`` keeps going in
the native runtime when the awaiting task is cancelled and would leave a connected room
nobody disconnects, so the connect runs as its own task, and `close` leaves the room it
makes once made (in the background: a session's close does not wait for a hung connect).

At exit the client disposes its native runtime (its own ``atexit`` hook); callbacks its
threads had already begun may still be waiting for the interpreter. A native thread that
enters Python once the interpreter finalizes is ended by CPython (``pthread_exit``), and
the client's runtime then aborts the process ("panic in a function that cannot unwind"):
a program that closed everything would exit with SIGABRT. `_exit_grace`, registered before
the client's hook exists (so it runs after it), lets those callbacks finish first.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterable, Callable
from importlib import import_module
from typing import Any

from livekit import rtc

from .._errors import sanitize
from .._media.streams import FrameFanout

__all__ = [
    "AUDIO_CHANNELS",
    "AUDIO_RATE",
    "COMMAND_TOPIC",
    "EVENT_TOPIC",
    "MIC_RATE",
    "Room",
    "describe_reason",
    "rooms_left",
]

logger = logging.getLogger("heygen_streaming")

COMMAND_TOPIC = "agent-control"
EVENT_TOPIC = "agent-response"
AUDIO_RATE = 48_000
AUDIO_CHANNELS = 1
AUDIO_FRAME_MS = 20
"""Audio frames of 20 ms (the client's default is 10 ms): half the frames to convert and
hand over, for at most 10 ms later sight of the first voiced sample (as v1's frames)."""
VIDEO_QUEUE = 2
"""Frames the client's own stream may hold before the pump takes them (drop-oldest)."""
MIC_RATE = 48_000
MIC_FRAME = 960  # 20 ms
CLOSE_TIMEOUT = 5.0
FRAMES = "heygen_streaming._liveavatar.frames"
LATE_CONNECT = 60.0
"""Seconds a connect given up may still take before its room is left in the background."""
_REAPERS: set[asyncio.Task[None]] = set()
EXIT_GRACE = 0.2
"""Seconds a process that joined a room waits at exit, after the client's runtime was
disposed, for the callbacks the runtime's threads had already begun."""
_JOINED: list[bool] = []


def _exit_grace() -> None:
    """Release the interpreter for `EXIT_GRACE` seconds at exit if a room was made."""
    if _JOINED:
        time.sleep(EXIT_GRACE)


atexit.register(_exit_grace)  # before the client's hook: atexit runs this one after it


def describe_reason(reason: Any) -> str:
    """A disconnect reason's name (``ROOM_DELETED``), whatever the client passed."""
    try:
        return str(rtc.DisconnectReason.Name(reason))
    except (ValueError, TypeError):
        return sanitize(str(reason), limit=60) or "UNKNOWN"


class Room:
    """One joined room.

    Args:
        fanouts: ``{"video": ..., "audio": ...}`` the avatar's tracks are pumped into.
        on_data: called with each payload on the ``agent-response`` topic.
        on_disconnected: called once with the reason's name when the room goes away.
        redact: removes credentials from text that may quote them (client errors).
        reapers: where a room left in the background is tracked (its client's set).
    """

    def __init__(
        self,
        fanouts: dict[str, FrameFanout],
        *,
        on_data: Callable[[bytes], None],
        on_disconnected: Callable[[str], None],
        redact: Callable[[str], str],
        reapers: set[asyncio.Task[None]] | None = None,
    ) -> None:
        self.fanouts = fanouts
        self._reapers = reapers if reapers is not None else set()
        self._on_data = on_data
        self._on_disconnected = on_disconnected
        self._redact = redact
        self.room = rtc.Room()
        _JOINED[:] = [True]
        self._connect: asyncio.Task[None] | None = None
        self._pumps: set[asyncio.Task[None]] = set()
        self._mic: rtc.AudioSource | None = None
        self._mic_lock = asyncio.Lock()
        self._closing = False
        self._told = False
        self.room.on("track_subscribed", self._track)
        self.room.on("data_received", self._data)
        self.room.on("disconnected", self._disconnected)

    # -- connect -------------------------------------------------------------------------

    async def connect(self, url: str, token: str, *, attempt_timeout: float) -> None:
        """Join; the task keeps running if the caller is cancelled (`close` reaps it)."""
        options = rtc.RoomOptions(auto_subscribe=True, connect_timeout=attempt_timeout)
        self._connect = asyncio.ensure_future(self.room.connect(url, token, options))
        self._connect.add_done_callback(_retrieve)
        if FRAMES not in sys.modules:  # PyAV loads while the client's threads connect
            await asyncio.sleep(0)  # the connect request is made
            import_module(FRAMES)
        try:
            await asyncio.shield(self._connect)
        except rtc.ConnectError as exc:
            raise ConnectionError(
                f"the room refused the client: {self._redact(str(exc))}"
            ) from None

    # -- media in ------------------------------------------------------------------------

    def _track(self, track: rtc.Track, publication: Any, participant: Any) -> None:
        if self._closing:
            return
        if track.kind == rtc.TrackKind.KIND_VIDEO and not self.fanouts["video"].frames:
            pump = self._pump_video(track)
        elif track.kind == rtc.TrackKind.KIND_AUDIO and not self.fanouts["audio"].frames:
            pump = self._pump_audio(track)
        else:
            return
        task = asyncio.ensure_future(pump)
        self._pumps.add(task)
        task.add_done_callback(self._pumps.discard)

    async def _pump_video(self, track: rtc.Track) -> None:
        from .frames import video_frame

        fanout = self.fanouts["video"]
        stream = rtc.VideoStream(track, capacity=VIDEO_QUEUE)
        try:
            async for event in stream:
                fanout.publish(video_frame(event.frame, event.timestamp_us))
        finally:
            with contextlib.suppress(Exception):
                await stream.aclose()

    async def _pump_audio(self, track: rtc.Track) -> None:
        from .frames import AudioClock, audio_frame

        fanout = self.fanouts["audio"]
        clock = AudioClock()
        stream = rtc.AudioStream(
            track,
            sample_rate=AUDIO_RATE,
            num_channels=AUDIO_CHANNELS,
            frame_size_ms=AUDIO_FRAME_MS,
            capacity=50,
        )
        try:
            async for event in stream:
                fanout.publish(audio_frame(event.frame, clock))
        finally:
            with contextlib.suppress(Exception):
                await stream.aclose()

    def _data(self, packet: rtc.DataPacket) -> None:
        if packet.topic == EVENT_TOPIC and not self._closing:
            self._on_data(bytes(packet.data))

    def _disconnected(self, reason: Any) -> None:
        if not self._told and not self._closing:
            self._told = True
            self._on_disconnected(describe_reason(reason))

    # -- out -----------------------------------------------------------------------------

    async def send_command(self, payload: bytes) -> None:
        """Publish one command on ``agent-control`` (reliable)."""
        await self.room.local_participant.publish_data(payload, reliable=True, topic=COMMAND_TOPIC)

    async def send_audio(self, pcm: AsyncIterable[bytes]) -> float:
        """Publish ``pcm`` (s16le mono 48 kHz) on the microphone track, at real time (the
        source's queue paces the caller); returns the seconds sent."""
        async with self._mic_lock:
            if self._mic is None:
                source = rtc.AudioSource(MIC_RATE, 1)
                track = rtc.LocalAudioTrack.create_audio_track("microphone", source)
                options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
                await self.room.local_participant.publish_track(track, options)
                self._mic = source
            sent = 0
            carry = b""
            async for piece in pcm:
                data = carry + piece
                whole = len(data) - len(data) % (MIC_FRAME * 2)
                for start in range(0, whole, MIC_FRAME * 2):
                    frame = data[start : start + MIC_FRAME * 2]
                    await self._mic.capture_frame(rtc.AudioFrame(frame, MIC_RATE, 1, MIC_FRAME))
                    sent += MIC_FRAME
                carry = data[whole:]
            if carry:
                samples = len(carry) // 2
                await self._mic.capture_frame(
                    rtc.AudioFrame(carry[: samples * 2], MIC_RATE, 1, samples)
                )
                sent += samples
            await self._mic.wait_for_playout()
            return sent / MIC_RATE

    # -- close ---------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop the pumps and leave (bounded). A connect still running is not waited for
        here: a background task leaves the room it makes, once made (`LATE_CONNECT`)."""
        self._closing = True
        connect = self._connect
        if connect is not None and not connect.done():
            reaper = asyncio.ensure_future(self._leave_when_connected(connect))
            for tracked in (_REAPERS, self._reapers):
                tracked.add(reaper)
                reaper.add_done_callback(tracked.discard)
            return
        await self._leave()

    async def _leave_when_connected(self, connect: asyncio.Future[None]) -> None:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(connect), LATE_CONNECT)
        await self._leave()

    async def _leave(self) -> None:
        for task in list(self._pumps):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.room.disconnect(), CLOSE_TIMEOUT)
        if self._mic is not None:
            with contextlib.suppress(Exception):
                await self._mic.aclose()
        await asyncio.gather(*self._pumps, return_exceptions=True)


async def rooms_left(
    timeout: float,  # noqa: ASYNC109 - a bound, not a deadline
    reapers: set[asyncio.Task[None]] | None = None,
) -> bool:
    """Wait (at most ``timeout`` seconds) until every room whose connect was given up has
    been left (those of ``reapers``, else all); True when none is left behind. A program
    that exits while the client's native runtime still connects a room may be aborted by
    it: a client's ``aclose()`` waits here for its own, bounded."""
    pending = [task for task in (_REAPERS if reapers is None else reapers) if not task.done()]
    if not pending:
        return True
    _, late = await asyncio.wait(pending, timeout=timeout)
    return not late


def _retrieve(task: asyncio.Future[None]) -> None:
    """Mark a connect's failure as seen: a connect given up may fail after nobody waits."""
    if not task.cancelled():
        task.exception()
