"""The official LiveKit Python client (``livekit``, Rust/libwebrtc), driven by JSON commands.

Run inside a network namespace (libwebrtc ignores loopback). Reads one JSON command per line
on stdin, prints one JSON event per line on stdout (see `tests/netns`):

* ``{"cmd": "connect", "url", "token", "single_pc": bool}`` → ``connected``
  (``seconds``) or ``connect_failed`` (``error``)
* ``{"cmd": "measure", "seconds"}`` → ``media``: video frames and frames/s over the
  window, audio frames and peak level, time from connect to the first video frame
* ``{"cmd": "send_data", "payload", "topic", "reliable"}`` → ``data_sent``
* ``{"cmd": "publish_audio"}`` → ``published`` (a 440 Hz tone as the microphone)
* ``{"cmd": "disconnect"}``, ``{"cmd": "quit"}``

Spontaneous events: ``participant_connected``, ``participant_disconnected``,
``track_subscribed``, ``data_received``, ``disconnected`` (``reason`` name).
No SDK code: only the official client.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import sys
import time
from typing import Any

import numpy as np
from livekit import rtc
from livekit.protocol import models

START = time.monotonic()


def emit(event: str, **fields: Any) -> None:
    print(
        json.dumps({"event": event, "t": round(time.monotonic() - START, 3), **fields}), flush=True
    )


class Client:
    def __init__(self) -> None:
        self.room = rtc.Room()
        self.connected_at = 0.0
        self.video_times: list[float] = []
        self.video_size = (0, 0)
        self.audio_frames = 0
        self.audio_peak = 0
        self.tasks: set[asyncio.Task[None]] = set()
        room = self.room
        room.on("participant_connected", self._participant_connected)
        room.on("participant_disconnected", self._participant_disconnected)
        room.on("track_subscribed", self._track_subscribed)
        room.on("data_received", self._data_received)
        room.on("disconnected", self._disconnected)

    def _participant_connected(self, participant: rtc.RemoteParticipant) -> None:
        emit("participant_connected", identity=participant.identity, sid=participant.sid)

    def _participant_disconnected(self, participant: rtc.RemoteParticipant) -> None:
        emit("participant_disconnected", identity=participant.identity)

    def _track_subscribed(
        self,
        track: rtc.Track,
        publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        kind = "video" if track.kind == rtc.TrackKind.KIND_VIDEO else "audio"
        emit(
            "track_subscribed",
            kind=kind,
            sid=publication.sid,
            identity=participant.identity,
            mime=publication.mime_type,
        )
        reader = self._read_video(track) if kind == "video" else self._read_audio(track)
        task = asyncio.get_running_loop().create_task(reader)
        self.tasks.add(task)

    async def _read_video(self, track: rtc.Track) -> None:
        async for event in rtc.VideoStream(track):
            self.video_times.append(time.monotonic())
            self.video_size = (event.frame.width, event.frame.height)

    async def _read_audio(self, track: rtc.Track) -> None:
        async for event in rtc.AudioStream(track, sample_rate=48000, num_channels=1):
            self.audio_frames += 1
            samples = np.frombuffer(event.frame.data, dtype=np.int16)
            if samples.size:
                self.audio_peak = max(self.audio_peak, int(np.abs(samples).max()))

    def _data_received(self, packet: rtc.DataPacket) -> None:
        emit(
            "data_received",
            payload=packet.data.decode("utf-8", "replace"),
            topic=packet.topic,
            identity=packet.participant.identity if packet.participant else None,
            reliable=packet.kind == rtc.DataPacketKind.KIND_RELIABLE,
        )

    def _disconnected(self, reason: int) -> None:
        emit("disconnected", reason=models.DisconnectReason.Name(reason))

    async def connect(self, url: str, token: str, single_pc: bool) -> None:
        started = time.monotonic()
        options = rtc.RoomOptions(single_peer_connection=single_pc, connect_timeout=10.0)
        try:
            await self.room.connect(url, token, options)
        except Exception as exc:
            emit("connect_failed", error=f"{type(exc).__name__}: {exc}")
            return
        self.connected_at = time.monotonic()
        emit(
            "connected",
            seconds=round(self.connected_at - started, 3),
            sid=self.room.local_participant.sid,
        )

    async def measure(self, seconds: float) -> None:
        start, audio_start = time.monotonic(), self.audio_frames
        self.audio_peak = 0
        await asyncio.sleep(seconds)  # a measurement window, not synchronisation
        end = time.monotonic()
        frames = [t for t in self.video_times if start <= t < end]
        first = self.video_times[0] - self.connected_at if self.video_times else None
        emit(
            "media",
            video_frames=len(frames),
            fps=round(len(frames) / (end - start), 2),
            width=self.video_size[0],
            height=self.video_size[1],
            first_video_s=None if first is None else round(first, 3),
            audio_frames=self.audio_frames - audio_start,
            audio_peak=self.audio_peak,
        )

    async def publish_audio(self) -> None:
        source = rtc.AudioSource(48000, 1)
        track = rtc.LocalAudioTrack.create_audio_track("microphone", source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        publication = await self.room.local_participant.publish_track(track, options)
        emit("published", sid=publication.sid)

        async def tone() -> None:
            samples = 480
            n = 0
            while True:
                t = (np.arange(samples) + n) / 48000
                pcm = (np.sin(2 * math.pi * 440 * t) * 8000).astype(np.int16)
                frame = rtc.AudioFrame(pcm.tobytes(), 48000, 1, samples)
                await source.capture_frame(frame)  # paced by the source's queue
                n += samples

        self.tasks.add(asyncio.get_running_loop().create_task(tone()))


async def main() -> None:
    level = os.environ.get("LK_CLIENT_LOG", "ERROR")  # e.g. WARNING, DEBUG when debugging
    logging.basicConfig(level=level, stream=sys.stderr)
    client = Client()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    emit("ready")
    while line := await reader.readline():
        command = json.loads(line)
        cmd = command.pop("cmd")
        if cmd == "connect":
            await client.connect(command["url"], command["token"], command.get("single_pc", True))
        elif cmd == "measure":
            await client.measure(float(command.get("seconds", 2.0)))
        elif cmd == "send_data":
            await client.room.local_participant.publish_data(
                command["payload"],
                topic=command.get("topic", ""),
                reliable=command.get("reliable", True),
            )
            emit("data_sent")
        elif cmd == "publish_audio":
            await client.publish_audio()
        elif cmd == "disconnect":
            await client.room.disconnect()
            emit("left")
        elif cmd == "quit":
            break
    for task in client.tasks:
        task.cancel()
    if client.room.isconnected():
        await client.room.disconnect()


if __name__ == "__main__":
    asyncio.run(main())
