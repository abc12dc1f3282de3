"""A stream's input: text and audio to play, fed by the event loop, drained by the worker.

Text arrives as deltas (``text_stream``) or all at once (``tts``). The event loop only
appends it (constant work per byte, nothing synthesised there); the worker takes the next
part of the complete text when the avatar is ready for more (`next_clip`, in the worker's
thread) and renders it there. Whatever complete text arrived while the avatar spoke is said
as one piece, so streamed tokens sound like one sentence, with no pause the text did not
ask for. A trailing partial word (``"Hel"`` of a delta ``"Hel"`` + ``"lo"``) waits for the
next delta, for ``final``, or until the avatar has had nothing to say for `PARTIAL_FLUSH`
seconds. At most `MAX_PENDING_BYTES` of unspoken text is buffered: a delta beyond that is
refused (`TextBufferFull`, HTTP 413) until the avatar has spoken some of it.
"""

from __future__ import annotations

import collections
import threading
import time

from ..avatar.text import next_part, tokenize
from .voice import Clip, Speech, Voice, voice_for

__all__ = ["MAX_PENDING_BYTES", "PARTIAL_FLUSH", "Script", "TextBufferFull"]

PARTIAL_FLUSH = 0.5
MAX_PENDING_BYTES = 128 * 1024
"""Unspoken text (UTF-8 bytes) a stream buffers: over two hours of speech, and more than
the longest create text (20,000 characters of up to 4 bytes)."""
_WORD_TAIL = frozenset("'’-_")


class TextBufferFull(ValueError):
    """A delta would buffer more than `MAX_PENDING_BYTES` of unspoken text."""


class Script:
    """Thread-safe queue of clips plus the text not yet turned into speech."""

    def __init__(
        self,
        voice: Voice | None = None,
        *,
        partial_flush: float = PARTIAL_FLUSH,
        max_pending: int = MAX_PENDING_BYTES,
    ) -> None:
        self._lock = threading.Lock()
        self._partial_flush = partial_flush
        self._max_pending = max_pending
        self.voice = voice or voice_for(None)
        self._clips: collections.deque[Clip] = collections.deque()
        self._pending = ""  # complete text not handed out yet
        self._partial = ""  # a trailing partial word
        self._held = 0  # UTF-8 bytes of both
        self._closed = False
        self.buffered_bytes = 0
        self.last_input = time.monotonic()

    @property
    def closed(self) -> bool:
        """True once no more input will come (``final``, or tts/audio)."""
        return self._closed

    def add_text(self, text: str, *, final: bool = False) -> int:
        """Append text; returns the total bytes buffered so far.

        Raises `TextBufferFull` (nothing appended) beyond `MAX_PENDING_BYTES` unspoken.
        """
        size = len(text.encode())
        with self._lock:
            if self._held + size > self._max_pending:
                raise TextBufferFull(
                    f"more than {self._max_pending} bytes of text are waiting to be spoken"
                )
            self._held += size
            self.buffered_bytes += size
            self.last_input = time.monotonic()
            pending = self._partial + text
            cut = len(pending)
            if not final:  # keep a trailing partial word back (the next delta may continue it)
                while cut and (pending[cut - 1].isalnum() or pending[cut - 1] in _WORD_TAIL):
                    cut -= 1
                if cut < len(pending) and not pending[-1].isalnum():
                    cut = len(pending)  # "well-" or "don'": not a word's end, but no word
            self._partial = pending[cut:]
            self._pending += pending[:cut]
            if final:
                self._closed = True
            return self.buffered_bytes

    def add_clip(self, clip: Clip, *, final: bool = True) -> None:
        """Queue a ready clip (``audio`` mode)."""
        with self._lock:
            self._clips.append(clip)
            self.last_input = time.monotonic()
            self._closed = self._closed or final

    def next_clip(self) -> Clip | None:
        """The next clip to play, or None (the avatar waits). Renders speech: call it from
        the worker's thread, never from the event loop."""
        with self._lock:
            if self._clips:
                return self._clips.popleft()
            if not self._pending.strip() and self._partial:
                idle = time.monotonic() - self.last_input
                if self._closed or idle >= self._partial_flush:
                    self._pending += self._partial
                    self._partial = ""
            text = ""
            while not text and self._pending:
                _, part, end = next_part(self._pending)
                self._held -= len(self._pending[:end].encode())
                self._pending = self._pending[end:]
                text = part if tokenize(part) else ""
            # A sentence's pause after the part, unless it is the very last thing to say.
            pause = not (self._closed and not self._pending.strip() and not self._partial)
        if not text:
            return None
        return Speech(text, self.voice, final_pause=pause).render_all()

    def exhausted(self) -> bool:
        """True when input is closed and everything was handed out."""
        with self._lock:
            return (
                self._closed
                and not self._clips
                and not self._pending.strip()
                and not self._partial.strip()
            )
