"""The emulator's one speech engine: eSpeak NG when it loads, else the synthetic babble.

`speech_engine()` is the process's engine, loaded on first use. If eSpeak NG cannot load (no
`espeakng-loader` wheel for the platform, a broken library) it logs one WARNING and every API
speaks the babble of `.babble` instead; ``HEYGEN_EMULATOR_SPEECH=babble`` asks for the babble.

`SpeechEngine.render` turns one part of a text (see `.text`) into a `Part`: 16-bit PCM at the
caller's rate (eSpeak's 22,050 Hz resampled by libswresample), each token's sample span from
the synthesiser's own word events, and the mouth's track from its phoneme events. It blocks
(a few ms per second of speech) and is safe from any thread; the event loop hands work to
the engine's own thread with `SpeechEngine.submit` (urgent jobs, such as the audio about
to play, go before background ones).
"""

from __future__ import annotations

import bisect
import concurrent.futures
import itertools
import logging
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import av
import numpy as np
import numpy.typing as npt

from .babble import render_babble
from .espeak import EngineUnavailable, EspeakNG, RawSpeech
from .mouth import MouthTrack
from .text import SpokenWord, Token, clean_text, is_word, tokenize
from .voices import Voice

__all__ = ["ENGINE_ENV", "Part", "SpeechEngine", "speech_engine"]

logger = logging.getLogger("heygen_streaming.emulator")

ENGINE_ENV = "HEYGEN_EMULATOR_SPEECH"
"""Set to ``babble`` to use the synthetic voice even where eSpeak NG loads."""

T = TypeVar("T")


@dataclass
class Part:
    """One rendered part: its audio, its words and its mouth."""

    text: str
    length: int
    """Samples (at the rate it was rendered for)."""
    samples: npt.NDArray[np.int16] | None
    """The audio, or None once dropped (a later `SpeechEngine.render` brings it back)."""
    words: list[SpokenWord]
    """Every token of the text with its span in samples from the part's start."""
    mouth: MouthTrack


class SpeechEngine:
    """Renders parts (`render`) and runs speech jobs on one thread (`submit`)."""

    def __init__(self, espeak: EspeakNG | None) -> None:
        self._espeak = espeak
        self.name = espeak.name if espeak is not None else "babble"
        """``"espeak-ng"`` or ``"babble"``."""
        self.version = espeak.version if espeak is not None else ""
        self._jobs: queue.PriorityQueue[tuple[int, int, Callable[[], None]]] = queue.PriorityQueue()
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def render(self, text: str, voice: Voice, *, rate: int, end_pause: bool = False) -> Part:
        """Render one part of a text at ``rate`` Hz (blocking).

        ``end_pause`` ends it with a sentence pause (for a part followed by more speech).
        """
        text = clean_text(text)
        if self._espeak is None:
            samples, words, phonemes = render_babble(text, voice, rate)
            pcm = np.clip(samples * 32767.0, -32768, 32767).astype(np.int16)
            mouth = MouthTrack.build(phonemes, samples, rate)
            return Part(text, int(pcm.size), pcm, words, mouth)
        raw = self._espeak.render(text, voice, end_pause=end_pause)
        pcm = _resample(raw.pcm, raw.rate, rate)
        if not end_pause:  # eSpeak ends with ~0.1 s of near-silence: end with the voice
            pcm = pcm[: _voice_end(pcm, rate)]
        phonemes = [(_at(ms, rate), name) for ms, name in raw.phonemes]
        words = _word_spans(tokenize(text), raw, rate, int(pcm.size))
        floats = pcm.astype(np.float32) / 32768.0
        return Part(text, int(pcm.size), pcm, words, MouthTrack.build(phonemes, floats, rate))

    def submit(self, job: Callable[[], T], *, urgent: bool = True) -> concurrent.futures.Future[T]:
        """Run ``job`` on the engine's thread; urgent jobs first, then in submission order."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(job())
                except BaseException as exc:
                    future.set_exception(exc)

        self._jobs.put((0 if urgent else 1, next(self._seq), run))
        self._ensure_thread()
        return future

    def _ensure_thread(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._serve, name="heygen-speech", daemon=True
                )
                self._thread.start()

    def _serve(self) -> None:
        while True:
            _, _, run = self._jobs.get()
            try:
                run()
            except Exception:  # run() reports through its future; never kill the thread
                logger.exception("speech job failed")


_engine: SpeechEngine | None = None
_engine_lock = threading.Lock()


def speech_engine() -> SpeechEngine:
    """The process's engine (loaded on first use; one WARNING if it falls back to babble)."""
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                _engine = SpeechEngine(_load())
    return _engine


def _load() -> EspeakNG | None:
    if os.environ.get(ENGINE_ENV, "").strip().lower() == "babble":
        logger.info("speech: synthetic babble (%s=babble)", ENGINE_ENV)
        return None
    try:
        return EspeakNG.load()
    except EngineUnavailable as exc:
        logger.warning(
            "eSpeak NG could not be loaded (%s): the emulator's avatar speaks synthetic "
            "babble instead of words. Install 'heygen-streaming[emulator]' (it brings "
            "espeakng-loader) on a platform that package supports to hear the words.",
            exc,
        )
        return None


def _at(ms: int, rate: int) -> int:
    return max(0, round(ms * rate / 1000))


def _voice_end(pcm: npt.NDArray[np.int16], rate: int) -> int:
    """Where the voice ends: after the last 10 ms louder than -40 dBFS (RMS 0.01)."""
    hop = rate // 100
    count = pcm.size // hop
    if not count:
        return int(pcm.size)
    frames = pcm[: count * hop].reshape(count, hop).astype(np.float64)
    loud = np.flatnonzero(np.sqrt(np.mean(frames**2, axis=1)) > 328.0)
    return int(pcm.size) if not loud.size else min(int(pcm.size), (int(loud[-1]) + 1) * hop)


def _resample(pcm: npt.NDArray[np.int16], source: int, rate: int) -> npt.NDArray[np.int16]:
    if source == rate or not pcm.size:
        return pcm.copy()
    resampler: Any = av.AudioResampler(format="s16", layout="mono", rate=rate)
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = source
    out = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    out += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(out).astype(np.int16) if out else np.zeros(0, np.int16)


def _word_spans(tokens: list[Token], raw: RawSpeech, rate: int, length: int) -> list[SpokenWord]:
    """Each token's span from the word events: from its first word event to the next
    token's first word event or the next pause, whichever comes first. Words the synthesiser
    said within another word's event ("I am" as one) share that span by their length, cut at
    phoneme starts; punctuation is a zero-length span where the previous word ended."""
    token_starts = [t.start for t in tokens]
    first: dict[int, int] = {}
    for char, ms in raw.words:
        index = max(0, bisect.bisect_right(token_starts, char) - 1)
        if tokens and index not in first:
            first[index] = min(length, _at(ms, rate))
    phonemes = sorted(_at(ms, rate) for ms, name in raw.phonemes if not name.startswith("("))
    pauses = sorted(_at(ms, rate) for ms, name in raw.phonemes if not name.lstrip("ˈˌ"))
    starts = sorted(first.values())
    spans: list[SpokenWord] = []
    group: list[int] = []  # a voiced word and the unvoiced words right after it
    cursor = 0

    def close() -> None:
        if len(group) > 1:
            _share(spans, group, phonemes)
        group.clear()

    for index, token in enumerate(tokens):
        start = first.get(index)
        if start is None or not is_word(token.text):
            if group and is_word(token.text):
                group.append(len(spans))
            else:
                close()
            spans.append(SpokenWord(token.text, cursor, cursor))
            continue
        close()
        start = max(start, cursor)
        end = length
        later = bisect.bisect_right(starts, start)
        if later < len(starts):
            end = min(end, starts[later])
        pause = bisect.bisect_right(pauses, start)
        if pause < len(pauses):
            end = min(end, pauses[pause])
        group.append(len(spans))
        spans.append(SpokenWord(token.text, start, max(start, end)))
        cursor = max(start, end)
    close()
    return spans


def _share(spans: list[SpokenWord], group: list[int], phonemes: list[int]) -> None:
    """Split the span of ``spans[group[0]]`` over the group's words, by characters."""
    lead = spans[group[0]]
    sizes = [len(spans[i].word) for i in group]
    inner = [p for p in phonemes if lead.start < p < lead.end]
    begin, done = lead.start, 0
    for n, (i, size) in enumerate(zip(group, sizes, strict=True)):
        done += size
        end = lead.end
        if n < len(group) - 1:
            end = lead.start + (lead.end - lead.start) * done // sum(sizes)
            if inner:  # the nearest phoneme start
                end = min(inner, key=lambda p: abs(p - end))
            end = min(lead.end, max(begin, end))
        spans[i] = SpokenWord(spans[i].word, begin, end)
        begin = end
