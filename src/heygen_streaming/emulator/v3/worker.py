"""The per-stream worker thread: plays the `Script` in real time into an `HlsWriter`.

Every 40 ms of wall time it takes 40 ms of audio (the current clip, or silence while the
avatar waits), draws the matching frame (the mouth shaped by the speech's phonemes, or
opened by the audio's level for user audio) and muxes both, so the playlist grows like a
live stream's. Speech is rendered here too (`Script.next_clip`): neither speech nor
encoding ever runs on the event loop.
Words are reported once their audio has been muxed; times are seconds from the first
audio sample of the stream. The worker reports through ``notify`` (called in its own
thread; the caller marshals onto the event loop).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .frames import AvatarRenderer
from .hls import FPS, HlsWriter
from .script import Script
from .voice import SAMPLE_RATE, Clip, Speech

__all__ = ["Finished", "Idle", "Started", "StreamWorker", "Word", "Words", "WorkerEvent"]

logger = logging.getLogger("heygen_streaming.emulator")

CHUNK = SAMPLE_RATE // FPS
TAIL_FRAMES = 8
"""Frames of silence (closed mouth) after the last word before the stream completes."""
MAX_LAG = 2.0


@dataclass(frozen=True)
class Word:
    """One word (or punctuation mark) with start and end in seconds."""

    word: str
    start: float
    end: float


@dataclass(frozen=True)
class Started:
    """The playlist lists its first segment."""


@dataclass(frozen=True)
class Words:
    """Words whose audio is now in the stream."""

    words: tuple[Word, ...]


@dataclass(frozen=True)
class Idle:
    """Everything queued was spoken; the avatar waits."""


@dataclass(frozen=True)
class Finished:
    """The writer is closed: ``end_reason`` when completed, else ``error``."""

    end_reason: str | None
    error: str | None
    seconds: float
    published: bool = False
    """True when the playlist exists (at least one segment was written)."""


WorkerEvent = Started | Words | Idle | Finished


class StreamWorker:
    """Runs one stream's media in a thread (`start`, `stop`, `join`)."""

    def __init__(
        self,
        *,
        script: Script,
        directory: Path,
        avatar: str,
        notify: Callable[[WorkerEvent], None],
        segment_seconds: float,
        max_length: float,
        idle_timeout: float | None,
    ) -> None:
        self.script = script
        self.directory = directory
        self.avatar = avatar
        self.notify = notify
        self.segment_seconds = segment_seconds
        self.max_length = max_length
        self.idle_timeout = idle_timeout
        self.stop_reason: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heygen-v3-stream", daemon=True)
        self.cpu_seconds = 0.0

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self, reason: str) -> None:
        """Ask the thread to finish the playlist and exit (its end reason is ``reason``)."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread (blocking: call from a worker thread)."""
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        """True while the thread runs."""
        return self._thread.is_alive()

    def _run(self) -> None:
        cpu0 = time.thread_time()
        end_reason: str | None = None
        error: str | None = None
        writer: HlsWriter | None = None
        seconds = 0.0
        try:
            renderer = AvatarRenderer(self.avatar)
            writer = HlsWriter(self.directory, segment_seconds=self.segment_seconds)
            end_reason, seconds = self._play(renderer, writer)
        except Exception as exc:
            logger.exception("v3 stream worker failed")
            error = f"media pipeline failed: {type(exc).__name__}"
        finally:
            if writer is not None:
                try:
                    writer.close()
                except Exception as exc:
                    logger.exception("v3 stream writer close failed")
                    error = error or f"media pipeline failed: {type(exc).__name__}"
            self.cpu_seconds = time.thread_time() - cpu0
            published = writer is not None and writer.started
            self.notify(Finished(None if error else end_reason, error, seconds, published))

    def _play(self, renderer: AvatarRenderer, writer: HlsWriter) -> tuple[str, float]:
        script = self.script
        clip: Clip | None = None
        clip_start = 0  # stream sample index where the clip started
        taken = 0  # samples taken from the clip
        pending_words: list[tuple[str, int, int]] = []
        talked = False
        quiet_since = time.monotonic()
        tail = -1
        announced = False
        index = 0
        t0 = time.monotonic()
        while True:
            if self._stop.is_set():
                return self.stop_reason or "cancelled", index / FPS
            if index / FPS >= self.max_length:
                return "max_duration", index / FPS
            if clip is None and tail < 0:
                clip = script.next_clip()
                if clip is not None:
                    clip_start, taken = index * CHUNK, 0
                    pending_words = [(w.word, w.start, w.end) for w in clip.words()]
                    talked = True
                elif talked:
                    talked = False
                    quiet_since = time.monotonic()
                    self.notify(Idle())
            if clip is not None:
                audio = clip.take(taken, CHUNK)
                taken += CHUNK
                done = [w for w in pending_words if w[2] <= taken]
                if done:
                    pending_words = pending_words[len(done) :]
                    self.notify(Words(tuple(_word(w, clip_start) for w in done)))
                level = math.sqrt(float(np.mean(audio.astype(np.float64) ** 2)))
                level *= clip.level_gain
                mouth = clip.pose_over(taken - CHUNK, CHUNK) if isinstance(clip, Speech) else None
                frame = renderer.frame(index, talking=True, level=level, mouth=mouth)
                if taken >= clip.total:
                    clip = None
            else:
                audio = np.zeros(CHUNK, np.float32)
                frame = renderer.frame(index, talking=False, level=0.0)
            writer.write(frame, audio)
            index += 1
            if not announced and writer.started:
                announced = True
                self.notify(Started())
            if tail > 0:
                tail -= 1
                if tail == 0:
                    return "final_marker", index / FPS
            elif clip is None and tail < 0:
                if script.exhausted():
                    tail = TAIL_FRAMES
                elif self.idle_timeout is not None and not talked:
                    quiet = time.monotonic() - max(quiet_since, script.last_input)
                    if quiet >= self.idle_timeout:
                        return "idle_timeout", index / FPS
            delay = t0 + index / FPS - time.monotonic()
            if delay < -MAX_LAG:  # far behind (overloaded machine): do not burst
                t0 -= delay
            elif delay > 0:
                self._stop.wait(delay)


def _word(word: tuple[str, int, int], offset: int) -> Word:
    text, start, end = word
    return Word(
        text, round((offset + start) / SAMPLE_RATE, 3), round((offset + end) / SAMPLE_RATE, 3)
    )
