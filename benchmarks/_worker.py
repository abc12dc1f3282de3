"""One benchmark scenario in a fresh process: ``python -m benchmarks._worker '<json>'``.

Prints one JSON line with the results. The emulator runs in another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import httpx

from heygen_streaming import StreamingClient

from ._measure import audio_rms, rss_mb, stamp_of
from ._raw import raw_open

Scenario = Callable[[dict[str, Any]], Coroutine[Any, Any, dict[str, Any]]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(fn: Scenario) -> Scenario:
    SCENARIOS[fn.__name__] = fn
    return fn


def _client(p: dict[str, Any]) -> StreamingClient:
    return StreamingClient(api_key=p["api_key"], base_url=p["base_url"])


async def _track_frames(track: Any) -> AsyncIterator[Any]:
    while True:
        yield await track.recv()


async def _drain(frames: AsyncIterator[Any]) -> None:
    with contextlib.suppress(Exception):
        async for _ in frames:
            pass


# -- time to first video frame -------------------------------------------------------------


async def _ttff_sdk(p: dict[str, Any], client: StreamingClient) -> tuple[float, float]:
    """(ms until ``session()`` is entered, ms until the first frame out of ``s.video()``)."""
    t0 = time.perf_counter()
    async with client.session(quality=p["quality"]) as s:
        entered = time.perf_counter() - t0
        async for _ in s.video():
            break
        elapsed = time.perf_counter() - t0
    return entered * 1000, elapsed * 1000


async def _ttff_raw(p: dict[str, Any], http: httpx.AsyncClient) -> float:
    t0 = time.perf_counter()
    raw = await raw_open(http, p["base_url"], p["api_key"], p["quality"])
    try:
        await raw.tracks["video"].recv()
        elapsed = time.perf_counter() - t0
    finally:
        await raw.close()
    return elapsed * 1000


@scenario
async def ttff(p: dict[str, Any]) -> dict[str, Any]:
    """Alternate SDK and raw connects; the first of each is a discarded warm-up."""
    sdk: list[float] = []
    entered: list[float] = []
    raw: list[float] = []
    async with _client(p) as client, httpx.AsyncClient() as http:
        for i in range(p["reps"] + 1):
            e_ms, s_ms = await _ttff_sdk(p, client)
            r_ms = await _ttff_raw(p, http)
            if i:
                sdk.append(s_ms)
                entered.append(e_ms)
                raw.append(r_ms)
    return {"sdk": sdk, "raw": raw, "sdk_entered": entered}


# -- speak -> first voiced audio frame -------------------------------------------------------


class _Level:
    """Reads an audio source in the background, timestamping each frame's level."""

    def __init__(self, frames: AsyncIterator[Any]) -> None:
        self.levels: list[tuple[float, float]] = []
        self._changed = asyncio.Condition()
        self._task = asyncio.ensure_future(self._run(frames))

    async def _run(self, frames: AsyncIterator[Any]) -> None:
        async for frame in frames:
            self.levels.append((time.perf_counter(), audio_rms(frame)))
            async with self._changed:
                self._changed.notify_all()

    async def wait_for(self, pred: Callable[[float, float], bool], since: float) -> float:
        """Receive time of the first frame after ``since`` whose level satisfies ``pred``."""
        seen = 0
        async with self._changed:
            while True:
                for t, level in self.levels[seen:]:
                    if t > since and pred(t, level):
                        return t
                seen = len(self.levels)
                await self._changed.wait()

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task


async def _voiced_latency(
    level: _Level, say: Callable[[], Awaitable[Any]], hush: Callable[[], Awaitable[Any]], reps: int
) -> tuple[list[float], float, float]:
    # Idle level first: one second of audio.
    start = time.perf_counter()
    await level.wait_for(lambda t, _: t > start + 1.0, start)
    idle = sorted(lv for t, lv in level.levels if t > start)
    idle_p95 = idle[int(0.95 * (len(idle) - 1))]
    threshold = max(idle_p95 * 4, 0.02)
    out: list[float] = []
    for _ in range(reps):
        t0 = time.perf_counter()
        await say()
        t1 = await asyncio.wait_for(level.wait_for(lambda _, lv: lv > threshold, t0), 10)
        out.append((t1 - t0) * 1000)
        await hush()
        quiet: list[float] = []

        def settled(t: float, lv: float, quiet: list[float] = quiet) -> bool:
            quiet[:] = [*quiet, t] if lv < threshold else []
            return len(quiet) >= 10

        await asyncio.wait_for(level.wait_for(settled, time.perf_counter()), 10)
    return out, idle_p95, threshold


@scenario
async def speak(p: dict[str, Any]) -> dict[str, Any]:
    """speak() -> first audio frame above an energy threshold, SDK vs raw task + recv."""
    text = "Hello there, this is a benchmark sentence."
    async with _client(p) as client, client.session(quality="low") as s:
        level = _Level(aiter(s.audio()))
        video = asyncio.ensure_future(_drain(aiter(s.video())))
        try:
            sdk, idle, thr = await _voiced_latency(
                level, lambda: s.speak(text), s.interrupt, p["reps"]
            )
        finally:
            await level.stop()
            video.cancel()
    async with httpx.AsyncClient() as http:
        raw = await raw_open(http, p["base_url"], p["api_key"], "low")
        level = _Level(_track_frames(raw.tracks["audio"]))
        video = asyncio.ensure_future(_drain(_track_frames(raw.tracks["video"])))
        sid = {"session_id": raw.session_id}
        try:
            base, _, _ = await _voiced_latency(
                level,
                lambda: raw.call("task", {**sid, "text": text, "task_type": "repeat"}),
                lambda: raw.call("interrupt", sid),
                p["reps"],
            )
        finally:
            await level.stop()
            video.cancel()
            await raw.close()
    return {"sdk": sdk, "raw": base, "idle_rms_p95": idle, "threshold": thr}


# -- capture -> iterator latency ---------------------------------------------------------------


WARMUP_FRAMES = 25


async def _latencies(frames: AsyncIterator[Any], count: int, clock: Callable[[], float]) -> Any:
    lat: list[float] = []
    indices: list[int] = []
    async for frame in frames:
        now = clock()
        stamp = stamp_of(frame)
        if stamp is not None:
            indices.append(stamp[0])
            lat.append((now - stamp[1]) * 1000)
        if len(indices) >= count:
            break
    missing = (indices[-1] - indices[0] + 1 - len(indices)) if indices else 0
    return lat, missing


@scenario
async def latency(p: dict[str, Any]) -> dict[str, Any]:
    """Stamp send time -> frame handed to the reader, 720p30, SDK iterator vs raw recv()."""
    clock = time.time  # stamps carry the emulator's wall-clock send time
    # Pay one-time costs (imports, codec set-up) before either side is measured.
    async with _client(p) as client:
        await _ttff_sdk(p, client)
    async with httpx.AsyncClient() as http:
        await _ttff_raw(p, http)
    async with _client(p) as client, client.session(quality=p["quality"]) as s:
        audio = asyncio.ensure_future(_drain(aiter(s.audio())))
        stream = s.video()
        # Warm-up (first second): the pipeline settles after the first key frame.
        sdk_warm, _ = await _latencies(aiter(stream), WARMUP_FRAMES, clock)
        sdk, sdk_missing = await _latencies(aiter(stream), p["frames"], clock)
        dropped = stream.dropped
        audio.cancel()
    async with httpx.AsyncClient() as http:
        raw = await raw_open(http, p["base_url"], p["api_key"], p["quality"])
        audio = asyncio.ensure_future(_drain(_track_frames(raw.tracks["audio"])))
        try:
            frames = _track_frames(raw.tracks["video"])
            raw_warm, _ = await _latencies(frames, WARMUP_FRAMES, clock)
            base, raw_missing = await _latencies(frames, p["frames"], clock)
        finally:
            audio.cancel()
            await raw.close()
    return {
        "sdk": sdk,
        "raw": base,
        "sdk_missing": sdk_missing,
        "sdk_dropped": dropped,
        "raw_missing": raw_missing,
        "sdk_warmup": sdk_warm,
        "raw_warmup": raw_warm,
    }


# -- CPU per session -------------------------------------------------------------------------


async def _cpu_loop(video: AsyncIterator[Any], frames: int) -> dict[str, Any]:
    for _ in range(30):  # warm-up
        await anext(video)
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(frames):
        await anext(video)
    c1, w1 = time.process_time(), time.perf_counter()
    return {"cpu_s": c1 - c0, "wall_s": w1 - w0, "next": await anext(video)}


@scenario
async def cpu(p: dict[str, Any]) -> dict[str, Any]:
    """Process CPU time over a fixed number of video frames (audio read too)."""
    if p["mode"] == "sdk":
        async with _client(p) as client, client.session(quality=p["quality"]) as s:
            audio = asyncio.ensure_future(_drain(aiter(s.audio())))
            stream = s.video()
            stamps_before = stamp_of(await anext(aiter(stream)))
            out = await _cpu_loop(aiter(stream), p["frames"])
            stamps_after = stamp_of(out.pop("next"))
            out["dropped"] = stream.dropped
            audio.cancel()
    else:
        async with httpx.AsyncClient() as http:
            raw = await raw_open(http, p["base_url"], p["api_key"], p["quality"])
            audio = asyncio.ensure_future(_drain(_track_frames(raw.tracks["audio"])))
            try:
                frames = _track_frames(raw.tracks["video"])
                stamps_before = stamp_of(await anext(frames))
                out = await _cpu_loop(frames, p["frames"])
                stamps_after = stamp_of(out.pop("next"))
                out["dropped"] = 0
            finally:
                audio.cancel()
                await raw.close()
    if stamps_before and stamps_after:
        # Frames the sender produced in the span that this reader never got.
        span = stamps_after[0] - stamps_before[0] - 1
        out["missing"] = max(0, span - p["frames"] - 30)
    return out


# -- memory with a stalled consumer ------------------------------------------------------------


@scenario
async def memory(p: dict[str, Any]) -> dict[str, Any]:
    """RSS growth over ``seconds`` while nobody reads the 720p video."""
    curve: list[float] = []

    async def sample(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            curve.append(rss_mb())
            await asyncio.sleep(1.0)
        curve.append(rss_mb())

    if p["mode"] == "sdk":
        async with _client(p) as client, client.session(quality=p["quality"]) as s:
            stream = s.video()
            audio = s.audio()
            await anext(aiter(stream))
            await anext(aiter(audio))
            await sample(p["seconds"])
            dropped = stream.dropped
    else:
        async with httpx.AsyncClient() as http:
            raw = await raw_open(http, p["base_url"], p["api_key"], p["quality"])
            try:
                await raw.tracks["video"].recv()
                await sample(p["seconds"])
            finally:
                await raw.close()
            dropped = 0
    return {"start_mb": curve[0], "end_mb": curve[-1], "max_mb": max(curve), "dropped": dropped}


# -- scale -------------------------------------------------------------------------------------


@scenario
async def scale(p: dict[str, Any]) -> dict[str, Any]:
    """N concurrent sessions in this process; frames delivered over a window."""
    n, window = p["n"], p["window"]
    rss0 = rss_mb()
    counts = [0] * n
    stamps: list[list[int]] = [[] for _ in range(n)]
    failures: list[str] = []
    opened = asyncio.Event()
    counting = asyncio.Event()
    ready = 0

    async def one(i: int, client: StreamingClient) -> None:
        nonlocal ready
        try:
            async with client.session(quality="low", connect_timeout=60.0) as s:
                audio = asyncio.ensure_future(_drain(aiter(s.audio())))
                stream = s.video()
                await anext(aiter(stream))
                ready += 1
                if ready == n:
                    opened.set()
                async for frame in stream:
                    if counting.is_set():
                        counts[i] += 1
                        if len(stamps[i]) < 1 or counts[i] % 5 == 0:
                            st = stamp_of(frame)
                            if st:
                                stamps[i].append(st[0])
                    if done.is_set():
                        break
                audio.cancel()
        except Exception as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
            ready += 1
            if ready == n:
                opened.set()

    done = asyncio.Event()
    async with StreamingClient(
        api_key=p["api_key"], base_url=p["base_url"], timeout=60.0
    ) as client:
        tasks = [asyncio.ensure_future(one(i, client)) for i in range(n)]
        t0 = time.perf_counter()
        await asyncio.wait_for(opened.wait(), 120)
        connect_s = time.perf_counter() - t0
        rss1 = rss_mb()
        counting.set()
        c0 = time.process_time()
        await asyncio.sleep(window)
        cpu_s = time.process_time() - c0
        done.set()
        rss2 = rss_mb()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
    spans = [s[-1] - s[0] + 1 for s in stamps if len(s) >= 2]
    return {
        "n": n,
        "frames": counts,
        "failures": failures,
        "connect_s": connect_s,
        "rss_before_mb": rss0,
        "rss_connected_mb": rss1,
        "rss_end_mb": rss2,
        "client_cpu_s": cpu_s,
        "window_s": window,
        "sent_spans": spans,
    }


def main() -> None:
    params = json.loads(sys.argv[1])
    result = asyncio.run(SCENARIOS[params["scenario"]](params))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
