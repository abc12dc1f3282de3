"""One fresh process running a LiveAvatar session, through the SDK or raw, for the figures of
`benchmarks.liveavatar_sdk`. Run inside a network namespace (libwebrtc ignores loopback).

``python -m benchmarks._la_sdk_worker '{"mode": "sdk"|"raw", "kind": "full"|"lite", ...}'``

The raw flow is what a user writes without the SDK: httpx for token and start, the official
``livekit`` client for the room, ``websockets`` for the LITE socket, the same chunking. Both
print JSON lines: marks ``{"mark", "t"}`` (wall clock: ``imported``, ``first_frame``), then
one ``{"result": {...}}``: speak -> speak_started / -> first voiced audio (FULL), client
CPU per video frame over a window (FULL), LITE audio sent -> first voiced audio (LITE).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

VOICED = 1000  # int16 peak above which an audio frame counts as voiced
PARAMS: dict[str, Any] = json.loads(sys.argv[1]) if __name__ == "__main__" else {}


def mark(name: str) -> None:
    print(json.dumps({"mark": name, "t": time.time()}), flush=True)


def lite_pcm(seconds: float) -> bytes:
    import numpy as np

    t = np.arange(int(24000 * seconds)) / 24000
    return (np.sin(2 * np.pi * 220 * t) * 9000).astype("<i2").tobytes()


# -- the SDK ------------------------------------------------------------------------------


async def sdk(p: dict[str, Any]) -> dict[str, Any]:
    from heygen_streaming import LiveAvatarClient

    mark("imported")
    import asyncio

    out: dict[str, Any] = {}
    async with (
        LiveAvatarClient(api_key=p["api_key"], base_url=p["base_url"]) as client,
        client.session(avatar_id=p["avatar"], mode=p["kind"], quality=p["quality"]) as s,
    ):
        async for _ in s.video():
            mark("first_frame")
            break
        from heygen_streaming.liveavatar import SpeakEnded, SpeakStarted

        audio = s.audio(capacity=500)
        events = s.events(capacity=1000)

        async def voiced(since: float) -> float:
            async for frame in audio:
                if time.perf_counter() > since and abs(frame.to_ndarray()).max() > VOICED:
                    return time.perf_counter()
            return float("nan")

        async def event(kind: type, speech: str | None = None) -> float:
            async for e in events:
                if isinstance(e, kind) and (speech is None or e.speech_id == speech):
                    return time.perf_counter()
            return float("nan")

        starts, voices, lites = [], [], []
        for i in range(p["reps"]):
            await asyncio.sleep(0.3)  # the avatar is silent again
            while len(audio):  # what arrived before this speech does not count
                await anext(audio)
            t0 = time.perf_counter()
            heard = asyncio.ensure_future(voiced(t0))
            if p["kind"] == "full":
                started = asyncio.ensure_future(event(SpeakStarted))
                await s.speak(f"Benchmark sentence number {i}.")
                starts.append(1000 * (await started - t0))
                voices.append(1000 * (await heard - t0))
                await event(SpeakEnded)
            else:
                ended = asyncio.ensure_future(event(SpeakEnded))
                await s.speak_audio(lite_pcm(1.0), sample_rate=24000)
                lites.append(1000 * (await heard - t0))
                await ended
        out.update(speak_started=starts, voiced=voices, lite_voiced=lites)
        if p["kind"] == "full" and p["cpu_window"] > 0:
            out.update(await sdk_cpu(s, p["cpu_window"]))
    return out


async def sdk_cpu(s: Any, window: float) -> dict[str, Any]:
    import asyncio

    video, audio = s.video(capacity=100), s.audio(capacity=500)
    counts = {"video": 0, "audio": 0}

    async def read(stream: Any, kind: str) -> None:
        async for _ in stream:
            counts[kind] += 1

    tasks = [
        asyncio.ensure_future(read(video, "video")),
        asyncio.ensure_future(read(audio, "audio")),
    ]
    await asyncio.sleep(1.0)  # warm
    c0, v0 = time.process_time(), counts["video"]
    await asyncio.sleep(window)
    cpu, frames = time.process_time() - c0, counts["video"] - v0
    for task in tasks:
        task.cancel()
    return {"cpu_s": cpu, "video_frames": frames, "dropped": video.dropped}


# -- raw: httpx + livekit (+ websockets for LITE) -----------------------------------------


async def raw(p: dict[str, Any]) -> dict[str, Any]:
    import asyncio
    import base64

    import httpx
    import numpy as np
    from livekit import rtc

    if p["kind"] == "lite":
        from websockets.asyncio.client import connect

    mark("imported")
    base, key = p["base_url"], p["api_key"]
    body: dict[str, Any] = {
        "avatar_id": p["avatar"],
        "mode": p["kind"].upper(),
        "is_sandbox": False,
        "video_settings": {"quality": p["quality"], "encoding": "H264"},
    }
    if p["kind"] == "full":
        body["avatar_persona"] = {"language": "en"}
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        made = (await http.post("/v1/sessions/token", headers={"X-API-KEY": key}, json=body)).json()
        token = made["data"]["session_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        started = (await http.post("/v1/sessions/start", headers=bearer)).json()["data"]
        room = rtc.Room()
        first = asyncio.Event()
        audio_frames: asyncio.Queue[tuple[float, Any]] = asyncio.Queue()
        data: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()
        counts = {"video": 0, "audio": 0}
        tasks: set[asyncio.Task[None]] = set()

        async def read_video(track: rtc.Track) -> None:
            async for _ in rtc.VideoStream(track):
                counts["video"] += 1
                first.set()

        async def read_audio(track: rtc.Track) -> None:
            async for ev in rtc.AudioStream(track, sample_rate=48000, num_channels=1):
                counts["audio"] += 1
                audio_frames.put_nowait((time.perf_counter(), ev.frame))

        def subscribed(track: rtc.Track, *_: Any) -> None:
            kind = track.kind == rtc.TrackKind.KIND_VIDEO
            tasks.add(asyncio.ensure_future(read_video(track) if kind else read_audio(track)))

        def received(packet: rtc.DataPacket) -> None:
            if packet.topic == "agent-response":
                data.put_nowait((time.perf_counter(), json.loads(packet.data)))

        room.on("track_subscribed", subscribed)
        room.on("data_received", received)
        await room.connect(started["livekit_url"], started["livekit_client_token"])
        ws = await connect(started["ws_url"]) if p["kind"] == "lite" else None
        if ws is not None:
            while json.loads(await ws.recv()).get("state") != "connected":
                pass
        await first.wait()
        mark("first_frame")

        async def voiced(since: float) -> float:
            while True:
                at, frame = await audio_frames.get()
                samples = np.frombuffer(frame.data, dtype=np.int16)
                if at > since and int(np.abs(samples).max()) > VOICED:
                    return at

        async def event(name: str) -> float:
            while True:
                at, message = await data.get()
                if message.get("event_type") == name:
                    return at

        starts, voices, lites = [], [], []
        for i in range(p["reps"]):
            await asyncio.sleep(0.3)
            while not audio_frames.empty():
                audio_frames.get_nowait()
            t0 = time.perf_counter()
            heard = asyncio.ensure_future(voiced(t0))
            if ws is None:
                while not data.empty():
                    data.get_nowait()
                sid = f"raw-{i}"
                command = {"event_type": "avatar.speak_text", "event_id": sid,
                           "session_id": started["session_id"],
                           "text": f"Benchmark sentence number {i}."}  # fmt: skip
                speak_started = asyncio.ensure_future(event("avatar.speak_started"))
                await room.local_participant.publish_data(
                    json.dumps(command).encode(), reliable=True, topic="agent-control"
                )
                starts.append(1000 * (await speak_started - t0))
                voices.append(1000 * (await heard - t0))
                await event("avatar.speak_ended")
            else:
                pcm = lite_pcm(1.0)
                eid = f"raw-{i}"
                for chunk in (pcm[:28800], pcm[28800:]):  # 600 ms, then the rest
                    audio = base64.b64encode(chunk).decode()
                    await ws.send(
                        json.dumps({"type": "agent.speak", "event_id": eid, "audio": audio})
                    )
                await ws.send(json.dumps({"type": "agent.speak_end", "event_id": eid}))
                lites.append(1000 * (await heard - t0))
                while json.loads(await ws.recv()).get("type") != "agent.speak_ended":
                    pass
        out: dict[str, Any] = {"speak_started": starts, "voiced": voices, "lite_voiced": lites}
        if ws is None and p["cpu_window"] > 0:
            await asyncio.sleep(1.0)
            c0, v0 = time.process_time(), counts["video"]
            await asyncio.sleep(p["cpu_window"])
            out.update(cpu_s=time.process_time() - c0, video_frames=counts["video"] - v0, dropped=0)
        for task in tasks:
            task.cancel()
        if ws is not None:
            await ws.close()
        await room.disconnect()
        await http.post("/v1/sessions/stop", headers=bearer)
    return out


def main() -> None:
    import asyncio

    result = asyncio.run((sdk if PARAMS["mode"] == "sdk" else raw)(PARAMS))
    print(json.dumps({"result": result}), flush=True)


if __name__ == "__main__":
    main()
