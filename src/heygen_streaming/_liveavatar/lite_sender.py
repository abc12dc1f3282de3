"""LITE speech out: PCM chunked, one ``event_id`` per utterance, paced at real time.

The published guidance (the LiveAvatar skills guide) is a small first chunk (600 ms, so
speaking starts early), then ~1 s chunks, all under one ``event_id`` (different ids break
playback), each message at most 1 MB. Sending everything at once floods the service's
buffer; sending at real time from the start leaves no margin. So the sender keeps at most
``head_start`` seconds ahead of playback, and for a stream that arrives slower than its
chunks fill (an LLM->TTS pipeline) it sends what it has whenever the audio already sent is
about to run out (``low_water``), so the avatar starts speaking before the input ends and
never starves while input keeps coming.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .._errors import ConfigurationError

__all__ = ["BYTES_PER_SECOND", "MAX_PCM_BYTES", "RATE", "LiteSender", "Pacing"]

RATE = 24_000
BYTES_PER_SECOND = RATE * 2
MAX_PCM_BYTES = 700_000
"""PCM bytes in one ``agent.speak`` (base64 and JSON around it stay under 1 MB)."""
_QUEUE = 8
_END = object()


@dataclass(frozen=True, kw_only=True)
class Pacing:
    """How `speak_audio` chunks and paces (seconds).

    Attributes:
        first_chunk: audio in the first message (speaking starts when it arrives).
        chunk: audio in each later message.
        head_start: the most audio sent ahead of playback.
        low_water: send what is buffered once the audio sent runs out within this.
    """

    first_chunk: float = 0.6
    chunk: float = 1.0
    head_start: float = 2.0
    low_water: float = 0.25

    def __post_init__(self) -> None:
        limit = MAX_PCM_BYTES / BYTES_PER_SECOND
        for name in ("first_chunk", "chunk"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (0.02 <= value <= limit)
            ):
                raise ConfigurationError(f"{name} must be 0.02 to {limit:.1f} seconds")
        for name in ("head_start", "low_water"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigurationError(f"{name} must be seconds >= 0")

    def size(self, seconds: float) -> int:
        """Bytes of ``seconds`` of audio (whole samples)."""
        return max(2, int(seconds * RATE) * 2)


class LiteSender:
    """Sends utterances on the LITE socket (``send`` sends one command)."""

    def __init__(self, send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        self._send = send
        self._lock = asyncio.Lock()
        self.first_sent_at: float | None = None

    async def speak(self, pcm: AsyncIterator[bytes], event_id: str, pacing: Pacing) -> float:
        """Send ``pcm`` as one utterance, then ``agent.speak_end``; the seconds sent.

        Utterances go one at a time (a second waits for the first's audio to be sent).
        Cancelled (an interrupt), it stops sending at once and sends no ``speak_end``.
        """
        async with self._lock:
            return await _Utterance(self._send, event_id, pacing, self).run(pcm)


class _Utterance:
    def __init__(
        self,
        send: Callable[[dict[str, Any]], Awaitable[None]],
        event_id: str,
        pacing: Pacing,
        owner: LiteSender,
    ) -> None:
        self._send = send
        self._event_id = event_id
        self._pacing = pacing
        self._owner = owner
        self._loop = asyncio.get_running_loop()
        self._t0: float | None = None
        self._sent = 0.0

    async def run(self, pcm: AsyncIterator[bytes]) -> float:
        queue: asyncio.Queue[Any] = asyncio.Queue(_QUEUE)
        reader = asyncio.ensure_future(_fill(pcm, queue))
        pacing = self._pacing
        buffer = bytearray()
        target = pacing.size(pacing.first_chunk)
        try:
            while True:
                item = await self._next(queue, bool(buffer))
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    raise item
                if item is None:  # the audio sent is about to run out: send what we have
                    await self._emit(bytes(buffer))
                    buffer.clear()
                    target = pacing.size(pacing.chunk)
                    continue
                buffer += item
                while len(buffer) >= target:
                    await self._emit(bytes(buffer[:target]))
                    del buffer[:target]
                    target = pacing.size(pacing.chunk)
            if buffer:
                await self._emit(bytes(buffer))
            if self._sent:
                await self._send({"type": "agent.speak_end", "event_id": self._event_id})
            return self._sent
        finally:
            reader.cancel()

    async def _next(self, queue: asyncio.Queue[Any], buffered: bool) -> Any:
        """The next piece; None when the buffered audio must go out now."""
        if not buffered or self._t0 is None:
            return await queue.get()
        due = self._t0 + self._sent - self._pacing.low_water - self._loop.time()
        try:
            async with asyncio.timeout(max(due, 0.0)):
                return await queue.get()
        except TimeoutError:
            return None

    async def _emit(self, pcm: bytes) -> None:
        for start in range(0, len(pcm), MAX_PCM_BYTES):
            piece = pcm[start : start + MAX_PCM_BYTES]
            now = self._loop.time()
            if self._t0 is None:
                self._t0 = now
                self._owner.first_sent_at = now
            else:
                wait = (self._sent - self._pacing.head_start) - (now - self._t0)
                if wait > 0:
                    await asyncio.sleep(wait)
            audio = base64.b64encode(piece).decode("ascii")
            await self._send({"type": "agent.speak", "event_id": self._event_id, "audio": audio})
            self._sent += len(piece) / BYTES_PER_SECOND


async def _fill(pcm: AsyncIterator[bytes], queue: asyncio.Queue[Any]) -> None:
    """Read ``pcm`` into ``queue``; then the end, or the error that stopped it."""
    try:
        async for piece in pcm:
            if piece:
                await queue.put(piece)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        await queue.put(exc)
        return
    finally:
        close = getattr(pcm, "aclose", None)
        if close is not None:
            await close()
    await queue.put(_END)
