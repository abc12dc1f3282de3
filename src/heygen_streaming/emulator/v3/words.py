"""Per-stream word history for ``GET /{stream_id}/words`` (SSE).

Words arrive from the worker as their audio is muxed; they are grouped into batches of at
most `MAX_WORDS` words spanning less than `MAX_SPAN` seconds of audio. A batch is
published when the next word would not fit, when the avatar falls silent, and at the end.
Every subscriber (late ones included) reads the whole history, then live batches, then
exactly one end event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from .worker import Word

__all__ = ["MAX_SPAN", "MAX_WORDS", "WordLog"]

MAX_WORDS = 10
MAX_SPAN = 1.0


class WordLog:
    """Batches of words, and the end event once the stream is over."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.end: dict[str, Any] | None = None
        self.count = 0
        self._open: list[Word] = []
        self._changed = asyncio.Event()

    def add(self, words: tuple[Word, ...]) -> None:
        """Record words (ignored after the end)."""
        if self.end is not None:
            return
        for word in words:
            if self._open and (
                len(self._open) >= MAX_WORDS or word.start - self._open[0].start >= MAX_SPAN
            ):
                self.flush()
            self._open.append(word)
            self.count += 1

    def flush(self) -> None:
        """Publish the open batch, if any."""
        if self._open:
            batch = [{"word": w.word, "start": w.start, "end": w.end} for w in self._open]
            self._open = []
            self.batches.append(batch)
            self._wake()

    def finish(self, end: dict[str, Any]) -> None:
        """Publish the open batch and the end event (once)."""
        if self.end is not None:
            return
        self.flush()
        self.end = {**end, "word_count": self.count}
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def follow(self) -> AsyncGenerator[tuple[str | None, dict[str, Any]], None]:
        """Yield (event name, data): every batch ``(None, {"words": ...})``, then
        ``("end", WordsEndEvent)``."""
        sent = 0
        while True:
            changed = self._changed
            while sent < len(self.batches):
                yield None, {"words": self.batches[sent]}
                sent += 1
            if self.end is not None:
                yield "end", self.end
                return
            await changed.wait()
