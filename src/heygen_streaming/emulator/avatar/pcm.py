"""The avatar plays raw PCM it is sent (LiveAvatar LITE), gap-free, lips following the energy.

`PcmPlayer` takes s16le 24 kHz mono audio in chunks of any size, each under an event id,
and hands the audio track exactly that audio, upsampled to the track's 48 kHz, 20 ms at a
time. Chunks play back to back as one stream whatever their sizes and ids: no gap between
chunks or between ids (only when the sender falls behind real time, as it must). Each id
is a *speech*: the listener hears ``("start", id)`` when its first sample plays and
``("stop", id)`` when its last sample has played and it is over: ended by `commit`, or
followed by another id, or starved of audio for ``starve_timeout`` seconds.

The mouth follows the audio: openness from the RMS energy of the 20 ms being played (fast
attack, slower release), shape from its zero-crossing rate (hiss: wide, low: round).

Plug-in point: ``AvatarState.pcm`` (`heygen_streaming.emulator.avatar.tracks`): while the
player has speech, both tracks read it instead of the speech queue (`VoiceSource`).
"""

from __future__ import annotations

import collections
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from .speech import CLOSED, SAMPLE_RATE, MouthPose, MouthShape

__all__ = ["INPUT_RATE", "BufferFull", "PcmPlayer", "Upsampler", "VoiceSource"]

INPUT_RATE = 24_000
Samples = npt.NDArray[np.float32]
PcmListener = Callable[[str, str], None]
"""``listener(kind, event_id)`` with kind ``"start"`` or ``"stop"``."""

_TAPS = 8  # half-sample interpolator length (4 input samples either side)
_HALF = _TAPS // 2
_k = np.arange(_TAPS) - (_HALF - 1) - 0.5  # offsets of the taps from the half-sample point
_FIR = (np.sinc(_k) * (0.54 + 0.46 * np.cos(np.pi * _k / _HALF))).astype(np.float64)
_FIR /= _FIR.sum()
LAG = 2 * _HALF
"""Output samples by which the upsampler delays its input."""
_SPEECH_RMS = 0.08  # about -22 dBFS: a fully open mouth


class VoiceSource(Protocol):
    """What the avatar's tracks read a voice through (`SpeechQueue` and `PcmPlayer`)."""

    level: float
    mouth: MouthPose

    @property
    def talking(self) -> bool:
        """True while there is speech to play."""
        ...

    def next_chunk(self, count: int) -> Samples:
        """The next ``count`` samples at 48 kHz."""
        ...


class BufferFull(Exception):
    """More unplayed audio than the player holds."""


class Upsampler:
    """24 kHz -> 48 kHz, streaming: each pushed sample gives two, `LAG` samples late.

    Even outputs are the input samples; odd ones a windowed-sinc interpolation halfway
    between neighbours (flat to about 10 kHz). Chunk boundaries leave no trace.
    """

    def __init__(self) -> None:
        self._history = np.zeros(_TAPS - 1, np.float64)

    def push(self, samples: npt.NDArray[np.floating]) -> Samples:
        """Two output samples for every input sample."""
        if not len(samples):
            return np.zeros(0, np.float32)
        buf = np.concatenate([self._history, samples.astype(np.float64)])
        self._history = buf[-(_TAPS - 1) :].copy()
        count = len(samples)
        windows = np.lib.stride_tricks.sliding_window_view(buf, _TAPS)[:count]
        out = np.empty(2 * count, np.float32)
        out[0::2] = buf[_HALF - 1 : _HALF - 1 + count]
        out[1::2] = windows @ _FIR
        return out

    def flush(self) -> Samples:
        """The held-back output (pushes silence through)."""
        return self.push(np.zeros(_HALF, np.float64))


@dataclass
class _Span:
    event_id: str
    start: int  # output sample index of its first sample
    end: int  # one past its last sample
    committed: bool = False
    started: bool = False


class PcmPlayer:
    """Raw PCM speech for the avatar (see the module docstring).

    Args:
        max_buffered: seconds of unplayed audio held at most (`append` raises `BufferFull`).
        starve_timeout: seconds an uncommitted speech waits for more audio before it ends.
    """

    def __init__(self, *, max_buffered: float = 120.0, starve_timeout: float = 1.0) -> None:
        self.max_buffered = max_buffered
        self.starve_timeout = starve_timeout
        self.listener: PcmListener | None = None
        self.level = 0.0
        self.mouth: MouthPose = CLOSED
        self.samples_played = 0
        """Speech samples (48 kHz) handed to the track so far."""
        self._up = Upsampler()
        self._chunks: collections.deque[Samples] = collections.deque()
        self._spans: collections.deque[_Span] = collections.deque()
        self._produced = 0  # output samples made so far (global index of the next one)
        self._played = 0  # global index of the next sample to play
        self._starved = 0
        self._open = 0.0

    @property
    def talking(self) -> bool:
        """True while any speech is queued or playing."""
        return bool(self._spans)

    @property
    def buffered(self) -> float:
        """Seconds of audio received and not yet played."""
        end = self._spans[-1].end if self._spans else self._played
        return max(0, end - self._played) / SAMPLE_RATE

    def append(self, event_id: str, pcm: bytes) -> None:
        """Queue s16le 24 kHz mono ``pcm`` (an even number of bytes) under ``event_id``."""
        if len(pcm) % 2:
            raise ValueError("PCM s16le needs an even number of bytes")
        seconds = len(pcm) / 2 / INPUT_RATE
        if self.buffered + seconds > self.max_buffered:
            raise BufferFull(f"more than {self.max_buffered:g} s of audio waiting to play")
        samples = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768.0
        last = self._spans[-1] if self._spans else None
        if last is None or last.event_id != event_id or last.committed:
            last = _Span(event_id, self._produced + LAG, self._produced + LAG)
            self._spans.append(last)
        self._emit(self._up.push(samples))
        last.end = self._produced + LAG

    def commit(self, event_id: str) -> None:
        """No more audio for ``event_id``: it ends once its audio has played."""
        for span in self._spans:
            if span.event_id == event_id:
                span.committed = True
        if self._spans and self._spans[-1].committed:
            self._emit(self._up.flush())

    def interrupt(self) -> list[str]:
        """Drop every queued and playing speech at once; returns the ids that had started."""
        cut = [span.event_id for span in self._spans if span.started]
        self._spans.clear()
        self._chunks.clear()
        self._up = Upsampler()
        self._produced = self._played
        self._starved = 0
        self.mouth, self.level, self._open = CLOSED, 0.0, 0.0
        return cut

    def next_chunk(self, count: int) -> Samples:
        """The next ``count`` output samples (silence where there is nothing to play)."""
        out = np.zeros(count, np.float32)
        if not self._spans:
            self.mouth, self.level, self._open = CLOSED, 0.0, 0.0
            return out
        if self._produced - self._played < count:
            self._emit(self._up.flush())  # the sender is behind: play what is held back
        taken = self._take(out)
        before, self._played = self._played, self._played + taken
        self.samples_played += taken
        self._starved = 0 if taken == count else self._starved + count - taken
        self._advance(before)
        self._follow(out[:taken])
        return out

    # -- internals ----------------------------------------------------------------------------
    def _emit(self, samples: Samples) -> None:
        if len(samples):
            self._chunks.append(samples)
            self._produced += len(samples)

    def _take(self, out: Samples) -> int:
        filled = 0
        while filled < len(out) and self._chunks:
            chunk = self._chunks[0]
            n = min(len(out) - filled, len(chunk))
            out[filled : filled + n] = chunk[:n]
            filled += n
            if n == len(chunk):
                self._chunks.popleft()
            else:
                self._chunks[0] = chunk[n:]
        return filled

    def _advance(self, before: int) -> None:
        starve_limit = self.starve_timeout * SAMPLE_RATE
        while self._spans:
            span = self._spans[0]
            if not span.started and (span.start < self._played or span.start >= span.end):
                if span.start > self._played:
                    return  # not reached yet (the upsampler's lead-in)
                span.started = True
                self._tell("start", span.event_id)
            if not span.started or span.end > self._played:
                return
            over = span.committed or len(self._spans) > 1 or self._starved >= starve_limit
            if not over:
                return
            self._spans.popleft()
            self._tell("stop", span.event_id)

    def _follow(self, played: Samples) -> None:
        if not len(played):
            self._open *= 0.5
            self.level = 0.0
        else:
            x = played.astype(np.float64)
            rms = math.sqrt(float(np.mean(x * x)))
            self.level = rms
            target = min(1.0, (rms / _SPEECH_RMS) ** 0.7)
            self._open = target if target > self._open else self._open * 0.6 + target * 0.4
        crossings = float(np.mean(np.abs(np.diff(np.signbit(played))))) if len(played) > 1 else 0
        shape = (
            MouthShape.WIDE
            if crossings > 0.12
            else MouthShape.ROUND
            if crossings < 0.03
            else MouthShape.OPEN
        )
        self.mouth = MouthPose(open=self._open, shape=shape) if self._open > 0.02 else CLOSED

    def _tell(self, kind: str, event_id: str) -> None:
        if self.listener is not None:
            self.listener(kind, event_id)
