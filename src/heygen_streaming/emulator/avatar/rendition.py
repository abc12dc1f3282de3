"""`Speech`: one text rendered by the engine part by part, with its words and mouth.

Two ways to use it:

- from a thread that may block (the v3 stream worker, `synthesize`): `render_all`, or just
  `take`, which renders whatever it reaches;
- from the event loop (a live session): `start` times every part on the engine's thread
  (the first part urgently, the rest in the background), `ready`/`timed` tell how far it
  got, and `playable` says whether `take` can answer without rendering. Audio further than
  `KEEP_SECONDS` ahead of what is playing is dropped once timed and rendered again shortly
  before it plays (`PREFETCH_SECONDS`), so a long text costs little memory; a part rendered
  again is cut or padded to its first length (the two renders differ by a few ms at most),
  so its words and the total stay what was reported.

Sample positions are at the speech's `rate` from the start of the whole text.
"""

from __future__ import annotations

import asyncio
import bisect
import concurrent.futures
import contextlib
import threading
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from .engine import Part, SpeechEngine, speech_engine
from .mouth import CLOSED, MouthPose
from .text import SpokenWord, clean_text, split_parts
from .voices import DEFAULT_VOICE, Voice

__all__ = ["KEEP_SECONDS", "PREFETCH_SECONDS", "Speech"]

KEEP_SECONDS = 20.0
PREFETCH_SECONDS = 4.0
_SENTENCE_END = (".", "!", "?", "…")

Samples = npt.NDArray[np.float32]
T = TypeVar("T")


def _settle(future: concurrent.futures.Future[T], value: T) -> None:
    with contextlib.suppress(concurrent.futures.InvalidStateError):
        future.set_result(value)


class Speech:
    """A text as the avatar says it (thread-safe)."""

    def __init__(
        self,
        text: str,
        voice: Voice | None = None,
        *,
        rate: int = 48_000,
        final_pause: bool = False,
        engine: SpeechEngine | None = None,
    ) -> None:
        self.text = text
        self.voice = voice or DEFAULT_VOICE
        self.rate = rate
        self.level_gain = 1.0
        """For the v3 worker's `Clip` protocol: speech needs no gain."""
        self._engine = engine or speech_engine()
        self._sources = split_parts(clean_text(text))
        self._final_pause = final_pause
        self._parts: list[Part] = []
        self._offsets: list[int] = []
        self._known = 0
        self._lock = threading.Lock()
        self._timing = threading.Lock()
        self._inflight: set[int] = set()
        self._cancelled = False
        self._ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._timed: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._check_done()

    # -- rendering ---------------------------------------------------------------------
    def _render(self, index: int) -> Part:
        text = self._sources[index][1]
        last = index == len(self._sources) - 1
        pause = text.rstrip("\"'”’)]").endswith(_SENTENCE_END) and (self._final_pause or not last)
        return self._engine.render(text, self.voice, rate=self.rate, end_pause=pause)

    def _time_next(self) -> bool:
        """Render the next untimed part; False when every part is timed (or cancelled)."""
        with self._timing:
            index = len(self._parts)
            if self._cancelled or index >= len(self._sources):
                return False
            try:
                part = self._render(index)
            except BaseException as exc:
                self._fail(exc)
                raise
            with self._lock:
                offset = self._known
                if offset > KEEP_SECONDS * self.rate:
                    part.samples = None  # rendered again when it is about to play
                self._offsets.append(offset)
                self._parts.append(part)
                self._known = offset + part.length
            self._check_done()
            return len(self._parts) < len(self._sources)

    def _check_done(self) -> None:
        if self._parts or not self._sources:
            _settle(self._ready, None)
        if len(self._parts) == len(self._sources):
            _settle(self._timed, self._known)

    def _fail(self, exc: BaseException) -> None:
        for future in (self._ready, self._timed):
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                future.set_exception(exc)

    def start(self) -> Speech:
        """Time every part on the engine's thread (the first one urgently)."""

        def step() -> None:
            if self._time_next():
                self._engine.submit(step, urgent=False)

        if self._sources:
            self._engine.submit(step, urgent=True)
        return self

    def render_all(self) -> Speech:
        """Time every part in this thread (blocking)."""
        while self._time_next():
            pass
        return self

    def cancel(self) -> None:
        """Stop rendering (queued jobs for this speech do nothing; waits end at once)."""
        self._cancelled = True
        _settle(self._ready, None)
        _settle(self._timed, self._known)

    # -- state -------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """True once the first part is rendered (playing can start)."""
        return self._ready.done()

    @property
    def timed(self) -> bool:
        """True once every part is rendered at least once (`total` is known)."""
        return self._timed.done() and not self._cancelled

    @property
    def total(self) -> int:
        """Length in samples so far (the whole length once `timed`)."""
        return self._known

    async def wait_ready(self) -> None:
        """Wait (without blocking the loop) until playing can start."""
        await asyncio.wrap_future(self._ready)

    async def wait_timed(self) -> int:
        """Wait until every part is rendered; returns the length in samples."""
        return await asyncio.wrap_future(self._timed)

    def wait(self, timeout: float | None = None) -> int:
        """Block until every part is rendered; returns the length in samples."""
        return self._timed.result(timeout)

    def words(self) -> list[SpokenWord]:
        """Every token rendered so far with its span in samples from the start."""
        with self._lock:
            pairs = list(zip(self._offsets, self._parts, strict=True))
        return [
            SpokenWord(w.word, offset + w.start, offset + w.end)
            for offset, part in pairs
            for w in part.words
        ]

    def pose_at(self, position: int) -> MouthPose:
        """The mouth at sample ``position`` (closed outside the speech)."""
        with self._lock:
            i = bisect.bisect_right(self._offsets, position) - 1
            if i < 0 or position >= self._known:
                return CLOSED
            offset, part = self._offsets[i], self._parts[i]
        return part.mouth.pose_at(position - offset)

    def pose_over(self, start: int, count: int) -> MouthPose:
        """The mouth over samples [start, start + count): the mean openness of four
        instants, the shape of the middle one (what a video frame of them shows)."""
        poses = [self.pose_at(start + count * k // 8) for k in (1, 3, 5, 7)]
        return MouthPose(sum(p.open for p in poses) / 4, poses[2].shape)

    # -- audio -------------------------------------------------------------------------
    def playable(self, start: int, count: int) -> bool:
        """True when `take` can answer at once (timed far enough, audio in memory);
        asks the engine for audio that is about to play."""
        self._prefetch(start)
        with self._lock:
            if start >= self._known:
                return self.timed
            if start + count > self._known and not self.timed:
                return False
            first = bisect.bisect_right(self._offsets, start) - 1
            last = bisect.bisect_right(self._offsets, start + count - 1) - 1
            return all(self._parts[i].samples is not None for i in range(first, last + 1))

    def take(self, start: int, count: int) -> Samples:
        """Samples [start, start + count) in -1..1 (zero past the end), rendering (in this
        thread) what is not rendered yet."""
        while start + count > self._known and self._time_next():
            pass
        out = np.zeros(count, np.float32)
        with self._lock:
            first = max(0, bisect.bisect_right(self._offsets, start) - 1)
            spans = list(zip(self._offsets[first:], self._parts[first:], strict=True))
        for offset, part in spans:
            if offset >= start + count:
                break
            lo, hi = max(start, offset), min(start + count, offset + part.length)
            if hi <= lo:
                continue
            samples = part.samples if part.samples is not None else self._again(part, offset)
            out[lo - start : hi - start] = samples[lo - offset : hi - offset] / 32768.0
        self._forget(start)
        self._prefetch(start)
        return out

    def _again(self, part: Part, offset: int) -> npt.NDArray[np.int16]:
        """Render a dropped part again, fitted to its first length."""
        index = self._offsets.index(offset)
        again = self._render(index)
        assert again.samples is not None
        samples = np.zeros(part.length, np.int16)
        size = min(part.length, again.length)
        samples[:size] = again.samples[:size]
        with self._lock:
            part.samples = samples
        return samples

    def _forget(self, position: int) -> None:
        """Drop the audio of parts played completely."""
        with self._lock:
            for offset, part in zip(self._offsets, self._parts, strict=True):
                if offset + part.length > position:
                    break
                part.samples = None

    def _prefetch(self, position: int) -> None:
        horizon = position + PREFETCH_SECONDS * self.rate
        with self._lock:
            wanted = [
                (i, offset, part)
                for i, (offset, part) in enumerate(zip(self._offsets, self._parts, strict=True))
                if part.samples is None
                and offset + part.length > position
                and offset < horizon
                and i not in self._inflight
            ]
            self._inflight.update(i for i, _, _ in wanted)
        for i, offset, part in wanted:

            def job(i: int = i, offset: int = offset, part: Part = part) -> None:
                try:
                    if not self._cancelled and part.samples is None:
                        self._again(part, offset)
                finally:
                    with self._lock:
                        self._inflight.discard(i)

            self._engine.submit(job, urgent=True)
