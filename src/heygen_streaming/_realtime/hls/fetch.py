"""HLS playback, the network half: a blocking byte pipe and a live playlist fetcher.

`HlsFetcher` polls a live media playlist and streams every segment (after the ``EXT-X-MAP``
init section, for fMP4) in order into a `BytePipe`, as soon as the segment is listed; a
worker thread reads the pipe as one continuous file (MPEG-TS or fragmented MP4) with PyAV.
It ends at ``#EXT-X-ENDLIST``, or after one last reload once told the stream is over.

The playlist URL authorises itself: the fetcher uses its own HTTP client, which sends no
API key and no ``Authorization`` header (the URL may be on another host). Redirects are
followed, for the same reason.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading

import httpx

from ..._http import retry as _retry
from .playlist import HlsError, Playlist, Segment, parse_playlist

__all__ = [
    "BytePipe",
    "HlsError",
    "HlsFetcher",
    "Playlist",
    "Segment",
    "hls_http_client",
    "parse_playlist",
]

logger = logging.getLogger("heygen_streaming")

MAX_PLAYLIST_BYTES = 1 << 20
MAX_SEGMENT_BYTES = 256 << 20
PLAYLIST_TIMEOUT = 10.0
"""Seconds one playlist request may take in all (a server trickling bytes cannot stall it)."""
SEGMENT_TIMEOUT = 20.0
"""Least seconds one segment may spend on the network (waiting for the decoder excluded);
a segment is allowed 4 times its duration when that is longer."""
PIPE_LIMIT = 8 << 20
"""Bytes a pipe holds before the fetcher waits for the decoder."""


# -- pipe ----------------------------------------------------------------------------------


class BytePipe:
    """Bytes from the event loop to one reader thread, bounded.

    The thread calls `read` (blocking, file-like, for ``av.open``); the loop calls
    ``await write(data)``, which waits while more than ``limit`` bytes are unread. `close`
    is a normal end of file; `abort` also drops what is unread and wakes the reader.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int = PIPE_LIMIT) -> None:
        self._loop = loop
        self._limit = limit
        self._chunks: collections.deque[bytes] = collections.deque()
        self._size = 0
        self._closed = False
        self._cond = threading.Condition()
        self._room = asyncio.Event()
        self._room.set()
        self.total = 0

    @property
    def buffered(self) -> int:
        """Bytes written and not yet read."""
        return self._size

    async def write(self, data: bytes) -> None:
        """Queue ``data``; waits while the reader is more than ``limit`` bytes behind."""
        if not data:
            return
        while True:
            with self._cond:
                if self._closed:
                    return
                if self._size < self._limit:
                    self._chunks.append(data)
                    self._size += len(data)
                    self.total += len(data)
                    self._cond.notify_all()
                    return
                self._room.clear()
            await self._room.wait()

    def close(self) -> None:
        """End of file once the unread bytes are read."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._room.set()

    def abort(self) -> None:
        """End of file now: unread bytes are dropped."""
        with self._cond:
            self._closed = True
            self._chunks.clear()
            self._size = 0
            self._cond.notify_all()
        self._room.set()

    def read(self, size: int = -1) -> bytes:
        """Blocking read for the worker thread; ``b""`` at end of file."""
        with self._cond:
            while not self._chunks and not self._closed:
                self._cond.wait()
            if not self._chunks:
                return b""
            if size < 0:
                size = self._size
            out = bytearray()
            while self._chunks and len(out) < size:
                chunk = self._chunks.popleft()
                take = size - len(out)
                if len(chunk) > take:
                    self._chunks.appendleft(chunk[take:])
                    chunk = chunk[:take]
                out += chunk
            self._size -= len(out)
            if self._size < self._limit:
                self._loop.call_soon_threadsafe(self._room.set)
            return bytes(out)


# -- fetcher -------------------------------------------------------------------------------


def hls_http_client() -> httpx.AsyncClient:
    """An HTTP client for playlists and segments: no credentials, redirects followed."""
    from ..._client import _ssl_context

    return httpx.AsyncClient(
        verify=_ssl_context(),
        follow_redirects=True,
        timeout=httpx.Timeout(10.0),
        headers={"Accept": "*/*"},
    )


class HlsFetcher:
    """Streams a live HLS playlist's segments, in order, into a `BytePipe`.

    Args:
        url: the playlist URL (a master playlist picks its highest-bandwidth variant).
        http: the client for playlist and segment requests (see `hls_http_client`).
        pipe: where the bytes go; closed at the end, aborted on failure.
        min_poll: shortest interval between playlist reloads.
        attempts: consecutive failures of one request before giving up.

    Attributes:
        container: ``"mp4"`` or ``"mpegts"`` once known (see `wait_container`).
        segments: segments written so far.
    """

    def __init__(
        self,
        url: str,
        http: httpx.AsyncClient,
        pipe: BytePipe,
        *,
        min_poll: float = 0.1,
        attempts: int = 5,
    ) -> None:
        self.url = url
        self._http = http
        self._pipe = pipe
        self._min_poll = min_poll
        self._attempts = attempts
        self._finish = asyncio.Event()
        self._container_known = asyncio.Event()
        self.container: str | None = None
        self.segments = 0

    def finish(self) -> None:
        """The stream is over: write what the next reload lists, then end."""
        self._finish.set()

    async def wait_container(self) -> str | None:
        """The container of the segments, once the first playlist with segments was read."""
        await self._container_known.wait()
        return self.container

    async def run(self) -> None:
        """Fetch until the end of the stream; the pipe is closed (or aborted on error)."""
        try:
            await self._run()
        except BaseException:
            self._pipe.abort()
            raise
        finally:
            self._container_known.set()
        self._pipe.close()

    async def _run(self) -> None:
        url = self.url
        next_seq: int | None = None
        init_written: str | None = None
        last_text = ""
        loop = asyncio.get_running_loop()
        changed_at = loop.time()
        while True:
            finishing = self._finish.is_set()
            over = finishing and next_seq is not None
            fetched_at = loop.time()
            try:
                text, base = await self._text(url, 1 if over else self._attempts)
            except HlsError:
                if over:
                    return  # the stream is over and its playlist already gone
                raise
            playlist = parse_playlist(text, base)  # relative to where a redirect led
            if playlist.variants:
                url = max(playlist.variants)[1]
                continue
            if playlist.segments and not self._container_known.is_set():
                self.container = playlist.container
                self._container_known.set()
            for segment in playlist.segments:
                if next_seq is not None and segment.sequence < next_seq:
                    continue
                if next_seq is not None and segment.sequence > next_seq:
                    logger.warning(  # the reader fell behind a sliding window
                        "HLS: segments %d..%d expired unread", next_seq, segment.sequence - 1
                    )
                if playlist.init_uri is not None and playlist.init_uri != init_written:
                    await self._copy(playlist.init_uri)
                    init_written = playlist.init_uri
                await self._copy(segment.uri, segment.duration)
                self.segments += 1
                next_seq = segment.sequence + 1
                logger.debug(
                    "HLS: segment %d (%.2f s) fetched %.0f ms after the playlist listing it",
                    segment.sequence,
                    segment.duration,
                    (loop.time() - fetched_at) * 1000,
                )
            if playlist.ended or finishing:
                return
            if text != last_text:
                changed_at = fetched_at
            last_text = text
            # The next segment is due about one segment length after the last change (the
            # last EXTINF: the target duration is rounded up to whole seconds): sleep until
            # shortly before, then reload every tenth of it until it is listed (a few
            # requests per segment, and it is fetched within ~10 % of its length).
            length = (playlist.segments[-1].duration if playlist.segments else 0.0) or (
                playlist.target_duration or 1.0
            )
            step = max(self._min_poll, length / 10)
            due = changed_at + 0.7 * length
            now = loop.time()
            delay = max(step, due - now) if playlist.segments else self._min_poll
            try:
                async with asyncio.timeout(delay):
                    await self._finish.wait()
            except TimeoutError:
                pass

    async def _text(self, url: str, attempts: int) -> tuple[str, str]:
        """The playlist's text and its final URL (after redirects)."""
        error = ""
        for attempt in range(attempts):
            if attempt:
                await _retry.sleep(min(0.2 * 2 ** (attempt - 1), 2.0))
            try:
                async with (
                    asyncio.timeout(PLAYLIST_TIMEOUT),
                    self._http.stream("GET", url) as response,
                ):
                    if response.status_code == 200:
                        body = bytearray()
                        async for chunk in response.aiter_bytes():
                            body += chunk
                            if len(body) > MAX_PLAYLIST_BYTES:
                                raise HlsError("HLS playlist is larger than 1 MiB")
                        return body.decode("utf-8", errors="replace"), str(response.url)
                    error = f"HTTP {response.status_code}"
            except httpx.TransportError as exc:
                error = type(exc).__name__
            except TimeoutError:
                error = f"not complete after {PLAYLIST_TIMEOUT:g} s"
            logger.debug("HLS playlist: %s (attempt %d)", error, attempt + 1)
        raise HlsError(f"HLS playlist failed {attempts} times (last: {error})")

    async def _copy(self, url: str, duration: float = 0.0) -> None:
        error = ""
        limit = max(SEGMENT_TIMEOUT, 4 * duration)
        loop = asyncio.get_running_loop()
        for attempt in range(self._attempts):
            if attempt:
                await _retry.sleep(min(0.2 * 2 ** (attempt - 1), 2.0))
            written = 0
            deadline = loop.time() + limit  # moved on while the pipe is full (our decoder)
            try:
                async with asyncio.timeout_at(deadline) as timer:
                    async with self._http.stream("GET", url) as response:
                        if response.status_code == 200:
                            async for chunk in response.aiter_bytes():
                                written += len(chunk)
                                if written > MAX_SEGMENT_BYTES:
                                    raise HlsError("HLS segment is larger than 256 MiB")
                                timer.reschedule(None)
                                waited = loop.time()
                                await self._pipe.write(chunk)
                                deadline += loop.time() - waited
                                timer.reschedule(deadline)
                            return
                        error = f"HTTP {response.status_code}"
            except httpx.TransportError as exc:
                if written:
                    raise HlsError(f"HLS segment broke off: {type(exc).__name__}") from None
                error = type(exc).__name__
            except TimeoutError:
                if written:
                    raise HlsError(f"HLS segment not complete after {limit:g} s") from None
                error = f"no answer within {limit:g} s"
            logger.debug("HLS segment: %s (attempt %d)", error, attempt + 1)
        raise HlsError(f"HLS segment failed {self._attempts} times (last: {error})")
