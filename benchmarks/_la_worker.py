"""LiveAvatar benchmark client: N FULL sessions started over plain HTTP and watched with the
official ``livekit`` client (no SDK code), run inside a network namespace.

``python -m benchmarks._la_worker '{"base_url", "api_key", "n", "window", "quality"}'``
prints JSON lines: ``{"event": "window_start"}`` once every room shows video, then
``{"event": "window_end", "frames": [...], "audio_frames": [...], "window_s", "connect_s"}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import httpx
from livekit import rtc


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


async def start_session(
    http: httpx.AsyncClient, key: str, avatar: str, quality: str, encoding: str
) -> Any:
    body = {
        "avatar_id": avatar,
        "mode": "FULL",
        "avatar_persona": {},
        "video_settings": {"quality": quality, "encoding": encoding},
    }
    token = (await http.post("/v1/sessions/token", headers={"X-API-KEY": key}, json=body)).json()
    session_token = token["data"]["session_token"]
    auth = {"Authorization": f"Bearer {session_token}"}
    started = (await http.post("/v1/sessions/start", headers=auth)).json()["data"]
    return session_token, started


class Viewer:
    """One room: counts decoded video frames and audio frames."""

    def __init__(self) -> None:
        self.room = rtc.Room()
        self.video = 0
        self.audio = 0
        self.first = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()
        self.room.on("track_subscribed", self._subscribed)

    def _subscribed(self, track: rtc.Track, *_: Any) -> None:
        reader = (
            self._video(track) if track.kind == rtc.TrackKind.KIND_VIDEO else self._audio(track)
        )
        self.tasks.add(asyncio.get_running_loop().create_task(reader))

    async def _video(self, track: rtc.Track) -> None:
        async for _ in rtc.VideoStream(track):
            self.video += 1
            self.first.set()

    async def _audio(self, track: rtc.Track) -> None:
        async for _ in rtc.AudioStream(track, sample_rate=48000, num_channels=1):
            self.audio += 1


async def main(p: dict[str, Any]) -> None:
    base, key, n = p["base_url"], p["api_key"], int(p["n"])
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        avatars = (await http.get("/v1/avatars/public", headers={"X-API-KEY": key})).json()
        avatar = avatars["data"]["results"][0]["id"]
        started = await asyncio.gather(
            *(
                start_session(http, key, avatar, p.get("quality", "low"), p.get("encoding", "H264"))
                for _ in range(n)
            )
        )
        viewers = [Viewer() for _ in range(n)]
        t0 = time.perf_counter()
        await asyncio.gather(
            *(
                v.room.connect(s["livekit_url"], s["livekit_client_token"])
                for v, (_, s) in zip(viewers, started, strict=True)
            )
        )
        async with asyncio.timeout(120):
            await asyncio.gather(*(v.first.wait() for v in viewers))
        connect_s = time.perf_counter() - t0
        await asyncio.sleep(1.0)  # settle: every decoder running
        before = [(v.video, v.audio) for v in viewers]
        emit("window_start")
        began = time.perf_counter()
        await asyncio.sleep(float(p["window"]))  # the measurement window
        window = time.perf_counter() - began
        frames = [v.video - b[0] for v, b in zip(viewers, before, strict=True)]
        audio = [v.audio - b[1] for v, b in zip(viewers, before, strict=True)]
        emit("window_end", frames=frames, audio_frames=audio, window_s=window, connect_s=connect_s)
        for viewer in viewers:
            for task in viewer.tasks:
                task.cancel()
            await viewer.room.disconnect()
        for token, _ in started:
            await http.post("/v1/sessions/stop", headers={"Authorization": f"Bearer {token}"})


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
