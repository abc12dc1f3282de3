"""The official LiveKit Python client for LiveAvatar tests: `rooms.lk_client` plus audio
recording and a microphone burst. Run inside a network namespace; JSON lines in and out.

Extra commands (besides connect, measure, send_data, disconnect, quit):

* ``{"cmd": "record"}`` starts keeping the avatar's audio (48 kHz mono int16);
* ``{"cmd": "recorded"}`` → ``recorded``: ``audio`` (base64 int16) and ``t0``, the client
  time of its first sample (the ``t`` of every event is on the same clock);
* ``{"cmd": "speak_into_mic", "seconds"}`` → ``published``: a 440 Hz tone that long on a
  new microphone track, then silence.

No SDK code: only the official client.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import sys
import time
from pathlib import Path

import numpy as np
from livekit import rtc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from rooms.lk_client import START, Client, emit


class LaClient(Client):
    def __init__(self) -> None:
        super().__init__()
        self.recording: list[np.ndarray] | None = None
        self.t0: float | None = None

    async def _read_audio(self, track: rtc.Track) -> None:
        async for event in rtc.AudioStream(track, sample_rate=48000, num_channels=1):
            self.audio_frames += 1
            samples = np.frombuffer(event.frame.data, dtype=np.int16)
            if samples.size:
                self.audio_peak = max(self.audio_peak, int(np.abs(samples).max()))
            if self.recording is not None:
                if self.t0 is None:
                    self.t0 = time.monotonic() - START - samples.size / 48000
                self.recording.append(samples.copy())

    async def speak_into_mic(self, seconds: float) -> None:
        source = rtc.AudioSource(48000, 1)
        track = rtc.LocalAudioTrack.create_audio_track("microphone", source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        publication = await self.room.local_participant.publish_track(track, options)
        emit("published", sid=publication.sid)

        async def burst() -> None:
            n, samples = 0, 480
            while True:
                t = (np.arange(samples) + n) / 48000
                loud = n < seconds * 48000
                pcm = (np.sin(2 * math.pi * 440 * t) * (8000 if loud else 0)).astype(np.int16)
                await source.capture_frame(rtc.AudioFrame(pcm.tobytes(), 48000, 1, samples))
                n += samples

        self.tasks.add(asyncio.get_running_loop().create_task(burst()))


async def main() -> None:
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    client = LaClient()
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
                command["payload"], topic=command.get("topic", ""), reliable=True
            )
            emit("data_sent")
        elif cmd == "record":
            client.recording, client.t0 = [], None
        elif cmd == "recorded":
            audio = np.concatenate(client.recording or [np.zeros(0, np.int16)])
            client.recording = None
            emit("recorded", audio=base64.b64encode(audio.tobytes()).decode(), t0=client.t0)
        elif cmd == "speak_into_mic":
            await client.speak_into_mic(float(command["seconds"]))
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
