"""A stream's input: text and audio to play, fed by the event loop, drained by the worker.

Text arrives as deltas (``text_stream``) or all at once (``tts``). Complete tokens are
turned into `Speech` clips in arrival order; a trailing partial word (``"Hel"`` of a delta
``"Hel"`` + ``"lo"``) waits for the next delta, for ``final``, or until the avatar has
had nothing to say for `PARTIAL_FLUSH` seconds.
"""

from __future__ import annotations

import collections
import threading
import time

from .voice import Clip, Speech, split_tokens

__all__ = ["PARTIAL_FLUSH", "Script"]

PARTIAL_FLUSH = 0.5


class Script:
    """Thread-safe queue of clips plus the text not yet turned into speech."""

    def __init__(self, pitch: float = 1.0, *, partial_flush: float = PARTIAL_FLUSH) -> None:
        self._lock = threading.Lock()
        self._partial_flush = partial_flush
        self._pitch = pitch
        self._clips: collections.deque[Clip] = collections.deque()
        self._partial = ""
        self._closed = False
        self.buffered_bytes = 0
        self.last_input = time.monotonic()

    @property
    def closed(self) -> bool:
        """True once no more input will come (``final``, or tts/audio)."""
        return self._closed

    def add_text(self, text: str, *, final: bool = False) -> int:
        """Append text; returns the total bytes buffered so far."""
        with self._lock:
            self.buffered_bytes += len(text.encode())
            self.last_input = time.monotonic()
            pending = self._partial + text
            cut = len(pending)
            if not final and pending and not pending[-1].isspace():
                # Keep a trailing partial word back (it may continue in the next delta).
                tokens = split_tokens(pending)
                if tokens and tokens[-1][-1:].isalnum():
                    cut = pending.rfind(tokens[-1])
            self._partial = pending[cut:]
            self._queue_text(pending[:cut])
            if final:
                self._closed = True
            return self.buffered_bytes

    def add_clip(self, clip: Clip, *, final: bool = True) -> None:
        """Queue a ready clip (``audio`` mode)."""
        with self._lock:
            self._clips.append(clip)
            self.last_input = time.monotonic()
            self._closed = self._closed or final

    def _queue_text(self, text: str) -> None:
        tokens = split_tokens(text)
        if tokens:
            self._clips.append(Speech(tokens, self._pitch))

    def next_clip(self) -> Clip | None:
        """The next clip to play, or None (the avatar waits)."""
        with self._lock:
            if not self._clips and self._partial:
                idle = time.monotonic() - self.last_input
                if self._closed or idle >= self._partial_flush:
                    partial, self._partial = self._partial, ""
                    self._queue_text(partial)
            return self._clips.popleft() if self._clips else None

    def exhausted(self) -> bool:
        """True when input is closed and everything was handed out."""
        with self._lock:
            return self._closed and not self._clips and not self._partial.strip()
