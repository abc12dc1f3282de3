"""Silence a text_stream adds between an LLM's words (issue 19, item 4).

``python -m benchmarks.v3_word_gaps [--reps N] [--flow FLOW] [--base-url URL --api-key KEY]``

An LLM streams its answer as deltas of a few words every 100-200 ms. Two ways to speak it:

- ``first-then-live`` (the only way before the SDK took a stream without text): create
  with the first delta, ``async with`` waits until the stream is live, then ``say()`` the
  deltas the LLM produced meanwhile and the rest as they come;
- ``no-text`` (``client.realtime(avatar, voice)``): enter at once and ``say()`` every delta
  as it comes; the first creates the stream, the others queue behind it.

For each run: the longest pause between consecutive words (the service's word times:
``next.start - previous.end``) and the longest silence inside the decoded audio (20 ms
windows under the voiced level, between the first and the last voiced window). The text
has no punctuation, so any pause is one the user did not write. Against one emulator
process on loopback, or the service given by ``--base-url``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import statistics
from typing import Any

import numpy as np

from heygen_streaming import StreamingClient, Word
from heygen_streaming.emulator.process import EmulatorProcess

API_KEY = "bench-key"
AVATAR, VOICE = "bench-avatar", "bench-voice"
VOICED = 0.01  # RMS (0..1) above which 20 ms of audio count as speech
TEXT = (
    "well the short answer is that it depends on how much traffic you expect and how "
    "quickly you need the results but for most small teams a single server with a "
    "managed database is plenty and you can always add a cache later when the numbers "
    "tell you to"
)


def _chunks(rng: random.Random) -> list[tuple[float, str]]:
    """(seconds to wait before it, delta): 2-4 words every 100-200 ms."""
    words, out, i = TEXT.split(), [], 0
    while i < len(words):
        n = rng.randint(2, 4)
        out.append((rng.uniform(0.1, 0.2), " ".join(words[i : i + n]) + " "))
        i += n
    return out


async def _llm(chunks: list[tuple[float, str]], queue: asyncio.Queue[str | None]) -> None:
    for pause, text in chunks:
        await asyncio.sleep(pause)
        queue.put_nowait(text)
    queue.put_nowait(None)


async def run_once(client: StreamingClient, flow: str, seed: int) -> dict[str, float]:
    chunks = _chunks(random.Random(seed))
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    llm = asyncio.ensure_future(_llm(chunks, queue))
    if flow == "first-then-live":
        first = await queue.get()
        assert first is not None
        session = client.realtime(AVATAR, VOICE, first, max_seconds=120)
    else:
        session = client.realtime(AVATAR, VOICE, max_seconds=120)  # type: ignore[call-arg]
    async with session as rt:
        audio = rt.audio(capacity=100_000, layout="mono", format="flt")
        frames = asyncio.ensure_future(_collect(audio))
        while (delta := await queue.get()) is not None:
            await rt.say(delta)
        await rt.finish()
        await asyncio.wait_for(rt.wait_ended(), 120)
        words = [w async for w in rt.words()]
        samples, rate = await asyncio.wait_for(frames, 60)
    await llm
    return {"word_gap": _longest_word_gap(words), "silence": _longest_silence(samples, rate)}


async def _collect(audio: Any) -> tuple[np.ndarray[Any, Any], int]:
    chunks, rate = [], 48_000
    async for frame in audio:
        rate = frame.sample_rate
        chunks.append(frame.to_ndarray().reshape(-1))
    return (np.concatenate(chunks) if chunks else np.zeros(0, np.float32)), rate


def _longest_word_gap(words: list[Word]) -> float:
    spoken = [w for w in words if w.end > w.start]
    return max((b.start - a.end for a, b in itertools.pairwise(spoken)), default=0)


def _longest_silence(samples: np.ndarray[Any, Any], rate: int) -> float:
    window = rate // 50
    count = len(samples) // window
    if not count:
        return 0.0
    blocks = samples[: count * window].reshape(count, window).astype(np.float64)
    voiced = np.sqrt(np.mean(blocks**2, axis=1)) > VOICED
    where = np.flatnonzero(voiced)
    if len(where) < 2:
        return 0.0
    longest = run = 0
    for flag in voiced[where[0] : where[-1] + 1]:
        run = 0 if flag else run + 1
        longest = max(longest, run)
    return longest * window / rate


async def measure(base_url: str, api_key: str, flows: list[str], reps: int) -> None:
    results: dict[str, list[dict[str, float]]] = {flow: [] for flow in flows}
    async with StreamingClient(api_key=api_key, base_url=base_url) as client:
        for rep in range(reps):
            for flow in flows:
                results[flow].append(await run_once(client, flow, seed=rep))
    print(f"\n{'flow':<18} {'runs':>4} {'longest word gap (s)':>22} {'longest silence (s)':>21}")
    for flow, runs in results.items():
        gaps = [r["word_gap"] for r in runs]
        silences = [r["silence"] for r in runs]
        print(
            f"{flow:<18} {len(runs):>4} "
            f"{max(gaps):>10.2f} (med {statistics.median(gaps):.2f}) "
            f"{max(silences):>9.2f} (med {statistics.median(silences):.2f})"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--flow", choices=["first-then-live", "no-text"], action="append")
    parser.add_argument("--base-url")
    parser.add_argument("--api-key", default=API_KEY)
    args = parser.parse_args(argv)
    flows = args.flow or ["first-then-live", "no-text"]
    if args.base_url:
        asyncio.run(measure(args.base_url, args.api_key, flows, args.reps))
        return
    with EmulatorProcess(args.api_key) as emu:
        asyncio.run(measure(emu.base_url, args.api_key, flows, args.reps))


if __name__ == "__main__":
    main()
