"""Avatar Realtime (v3, HLS) latency: the SDK against a plain "poll, then PyAV" client.

``python -m benchmarks realtime [--reps N] [--base-url URL --api-key KEY]``

Two figures, each measured for both clients in the same run (alternating order), against
one emulator process on loopback (or the service given by ``--base-url``):

- **create → first frame**: from the create request to the first decoded video frame.
  The SDK polls the status every 0.2 s until live and starts decoding as soon as the first
  segment is listed; the plain client polls every second (the cadence HeyGen clients use)
  and hands the URL to ``av.open`` (FFmpeg's HLS demuxer) in a thread.
- **append → first voiced audio**: on a live ``text_stream`` whose first words have been
  spoken (voiced audio, then silence), from the append request to the first decoded
  audio frame above the silence threshold.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import av
import httpx

from heygen_streaming import StreamingClient

from ._measure import audio_rms, summary

API_KEY = "bench-key"
AVATAR, VOICE = "bench-avatar", "bench-voice"
VOICED = 0.01  # RMS (0..1) above which an audio frame counts as speech
QUIET_FRAMES = 40  # consecutive silent frames (~0.9 s of AAC) that mean "done speaking"
PLAIN_POLL = 1.0
LIMIT = 60.0


# -- SDK ------------------------------------------------------------------------------------


async def sdk_first_frame(client: StreamingClient) -> float:
    t0 = time.perf_counter()
    async with client.realtime(AVATAR, VOICE, "Hello there.", max_seconds=LIMIT) as rt:
        async with asyncio.timeout(LIMIT):
            await anext(rt.video())
        return time.perf_counter() - t0


async def sdk_append_to_voice(client: StreamingClient, reps: int) -> list[float]:
    out: list[float] = []
    async with client.realtime(AVATAR, VOICE, "Hi.", max_seconds=LIMIT * reps) as rt:
        levels = _levels(rt.audio(capacity=10_000))
        for i in range(reps):
            await _until_quiet(levels)
            t0 = time.perf_counter()
            await rt.say(f" Sentence number {i + 1}.")
            out.append(await _until_voiced(levels) - t0)
    return out


async def _levels(frames: AsyncIterator[Any]) -> AsyncIterator[tuple[float, float]]:
    async for frame in frames:
        yield time.perf_counter(), audio_rms(frame)


# -- plain client ---------------------------------------------------------------------------


class Plain:
    """The flow a user writes by hand: httpx for the calls, ``av.open(url)`` for the media."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, headers={"x-api-key": api_key})

    async def create(self, text: str) -> tuple[str, str]:
        body = {"type": "text_stream", "avatar_id": AVATAR, "voice_id": VOICE, "text": text}
        created = await self.http.post("/v3/avatar-realtime", json=body)
        created.raise_for_status()
        sid = created.json()["data"]["stream_id"]
        while True:
            data = (await self.http.get(f"/v3/avatar-realtime/{sid}")).json()["data"]
            url = data.get("hls_url") or data.get("url")
            if data["status"] in ("streaming", "ready") and url:
                return sid, url
            if data["status"] in ("completed", "error"):
                raise RuntimeError(f"stream ended before it was live: {data}")
            await asyncio.sleep(PLAIN_POLL)

    async def cancel(self, sid: str) -> None:
        await self.http.post(f"/v3/avatar-realtime/{sid}/cancel", json={})

    async def aclose(self) -> None:
        await self.http.aclose()


def _read(url: str, kind: str, sink: Callable[[Any], bool], stop: threading.Event) -> None:
    """Decode ``kind`` frames of ``url`` with PyAV, calling ``sink`` until it returns False."""
    with av.open(url, timeout=LIMIT) as container:
        stream = container.streams.video[0] if kind == "video" else container.streams.audio[0]
        for packet in container.demux(stream):
            for frame in packet.decode():
                if stop.is_set() or not sink(frame):
                    return


async def plain_first_frame(plain: Plain) -> float:
    t0 = time.perf_counter()
    sid, url = await plain.create("Hello there.")
    stop = threading.Event()
    first: list[float] = []

    def sink(frame: Any) -> bool:
        first.append(time.perf_counter())
        return False  # one frame is enough

    try:
        await asyncio.wait_for(asyncio.to_thread(_read, url, "video", sink, stop), LIMIT)
    finally:
        stop.set()
        await plain.cancel(sid)
    return first[0] - t0


async def plain_append_to_voice(plain: Plain, reps: int) -> list[float]:
    sid, url = await plain.create("Hi.")
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, float]] = asyncio.Queue()
    stop = threading.Event()

    def sink(frame: Any) -> bool:
        loop.call_soon_threadsafe(queue.put_nowait, (time.perf_counter(), audio_rms(frame)))
        return True

    reader = asyncio.ensure_future(asyncio.to_thread(_read, url, "audio", sink, stop))

    async def levels() -> AsyncIterator[tuple[float, float]]:
        while True:
            yield await queue.get()

    out: list[float] = []
    try:
        stream = levels()
        for i in range(reps):
            await _until_quiet(stream)
            t0 = time.perf_counter()
            answer = await plain.http.post(
                f"/v3/avatar-realtime/{sid}/text", json={"delta": f" Sentence number {i + 1}."}
            )
            answer.raise_for_status()
            out.append(await _until_voiced(stream) - t0)
    finally:
        stop.set()
        await plain.cancel(sid)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(reader, LIMIT)
    return out


# -- shared ---------------------------------------------------------------------------------


async def _until_quiet(levels: AsyncIterator[tuple[float, float]]) -> None:
    """Consume until voiced audio was followed by `QUIET_FRAMES` silent frames."""
    voiced, quiet = False, 0
    async with asyncio.timeout(LIMIT):
        async for _, rms in levels:
            voiced = voiced or rms > VOICED
            quiet = quiet + 1 if rms <= VOICED else 0
            if voiced and quiet >= QUIET_FRAMES:
                return


async def _until_voiced(levels: AsyncIterator[tuple[float, float]]) -> float:
    async with asyncio.timeout(LIMIT):
        async for at, rms in levels:
            if rms > VOICED:
                return at
    raise RuntimeError("the audio ended before any voiced frame")


async def _alternate(
    reps: int, sdk: Callable[[], Awaitable[float]], plain: Callable[[], Awaitable[float]]
) -> dict[str, list[float]]:
    runs: dict[str, list[float]] = {"sdk": [], "plain": []}
    for i in range(reps):
        order = (("sdk", sdk), ("plain", plain)) if i % 2 == 0 else (("plain", plain), ("sdk", sdk))
        for name, measure in order:
            runs[name].append(await measure())
    return runs


async def measure(base_url: str, api_key: str, reps: int) -> dict[str, dict[str, list[float]]]:
    """Both figures for both clients; seconds."""
    plain = Plain(base_url, api_key)
    try:
        async with StreamingClient(api_key=api_key, base_url=base_url) as client:
            first = await _alternate(
                reps, lambda: sdk_first_frame(client), lambda: plain_first_frame(plain)
            )
            voice = {
                "sdk": await sdk_append_to_voice(client, reps),
                "plain": await plain_append_to_voice(plain, reps),
            }
    finally:
        await plain.aclose()
    return {"create -> first frame": first, "append -> first voiced audio": voice}


def render(results: dict[str, dict[str, list[float]]]) -> str:
    """A fixed-width table, milliseconds, with the SDK/plain ratio of the medians."""
    header = ["Metric (ms)", "SDK p50", "SDK p95", "plain p50", "plain p95", "SDK/plain"]
    rows = [header]
    for metric, runs in results.items():
        s, p = summary([x * 1000 for x in runs["sdk"]]), summary([x * 1000 for x in runs["plain"]])
        ratio = s["median"] / p["median"] if s["median"] and p["median"] else None
        rows.append(
            [
                metric,
                *(f"{v:.0f}" if v is not None else "—" for v in (s["median"], s["p95"])),
                *(f"{v:.0f}" if v is not None else "—" for v in (p["median"], p["p95"])),
                f"{ratio:.2f}×" if ratio is not None else "—",
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks realtime", description=__doc__)
    parser.add_argument("--reps", type=int, default=5, help="repetitions per figure and client")
    parser.add_argument("--base-url", help="service to measure (default: an emulator process)")
    parser.add_argument("--api-key", default=API_KEY, help="its API key")
    parser.add_argument(
        "--emulator-arg", action="append", default=[], help="extra argument for the emulator CLI"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.base_url:
        results = asyncio.run(measure(args.base_url, args.api_key, args.reps))
    else:
        from heygen_streaming.emulator.process import EmulatorProcess

        with EmulatorProcess(API_KEY, extra_args=tuple(args.emulator_arg)) as emu:
            results = asyncio.run(measure(emu.base_url, API_KEY, args.reps))
    print(render(results))
    print(f"\n{args.reps} runs per client and figure; took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
