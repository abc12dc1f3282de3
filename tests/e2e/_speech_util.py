"""Listening to the emulator: an offline recogniser (pocketsphinx, its model in the wheel),
voiced spans, and a switch to the babble voice."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import av
import numpy as np
import pytest
from pocketsphinx import Decoder

import heygen_streaming.emulator.avatar.engine as engine_module
from heygen_streaming.emulator.avatar.engine import SpeechEngine

NUMBERS = "one two three four five six seven eight nine ten"
"""The known sentence: common words a recogniser knows well, and that babble never
resembles (babble is heard as "the", "a", "all", "at": none of these)."""


def transcribe(samples: np.ndarray[Any, Any], rate: int) -> list[str]:
    """The words pocketsphinx hears in mono float ``samples`` (blocking, about 1 s)."""
    pcm = np.clip(samples * 32767, -32768, 32767).astype(np.int16).reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
    frame.sample_rate = rate
    resampler: Any = av.AudioResampler(format="s16", layout="mono", rate=16_000)
    chunks = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    silence = np.zeros(4800, np.int16)  # the recogniser wants a little silence around speech
    audio = np.concatenate([silence, *chunks, silence])
    decoder = Decoder(samprate=16_000, loglevel="FATAL")
    decoder.start_utt()
    decoder.process_raw(audio.tobytes(), full_utt=True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    return hypothesis.hypstr.split() if hypothesis is not None else []


def hits(heard: list[str], sentence: str = NUMBERS) -> int:
    """How many words of ``sentence`` were heard."""
    return sum(1 for word in sentence.split() if word in heard)


def voiced_span(samples: np.ndarray[Any, Any], rate: int) -> tuple[float, float]:
    """Seconds from the first to the end of the last loud 5 ms window (RMS > 0.01)."""
    hop = rate // 200
    frames = samples[: samples.size // hop * hop].reshape(-1, hop).astype(np.float64)
    loud = np.flatnonzero(np.sqrt(np.mean(frames**2, axis=1)) > 0.01)
    assert loud.size, "no voiced audio"
    return loud[0] * hop / rate, (loud[-1] + 1) * hop / rate


@contextlib.contextmanager
def babble_voice(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The emulator speaks with its fallback voice (as where eSpeak NG cannot load)."""
    with monkeypatch.context() as patch:
        patch.setattr(engine_module, "_engine", SpeechEngine(None))
        yield
