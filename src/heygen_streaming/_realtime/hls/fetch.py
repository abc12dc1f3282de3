"""HLS playback, the network half: a blocking byte pipe and a live playlist fetcher.

`HlsFetcher` polls a live media playlist and streams every segment (after the ``EXT-X-MAP``
init section, for fMP4) in order into a `BytePipe`, as soon as the segment is listed; a
worker thread reads the pipe as one continuous file (MPEG-TS or fragmented MP4) with PyAV.
It ends at ``#EXT-X-ENDLIST``, or after one last reload once told the stream is over.

The playlist URL authorises itself: every request goes through a `Transport` of its own
(the package's one send path and retry loop, `HLS_POLICY`), which sends no API key and no
``Authorization`` header (the URL may be on another host) and follows redirects, for the
same reason. Its HTTP client is `hls_http_client` unless one is injected
(``StreamingClient(hls_http_client=...)``).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading

import httpx

from ..._errors import APIConnectionError
from ..._http.retry import RetryPolicy
from ..._http.tls import ssl_context
from ..._http.transport import Attempt, Transport
from .playlist import HlsError, Playlist, Segment, parse_playlist

__all__ = [
    "HLS_POLICY",
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
REQUEST_TIMEOUT = 10.0
"""httpx's connect/read/write timeouts of one playlist or segment request."""

HLS_POLICY = RetryPolicy(
    max_retries=4,
    retry_status=lambda status: status != 200,
    base_delay=0.2,
    max_backoff=2.0,
    jitter=False,
)
"""Retries of playlist and segment requests: any answer but 200 (a CDN edge may not have
a just-listed segment yet), 0.2 s doubling to 2 s; `HlsFetcher` sets the number."""


class _AttemptTimeout(httpx.TimeoutException):
    """One playlist or segment request ran out of its time (retried like a read timeout)."""


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
    return httpx.AsyncClient(
        verify=ssl_context(),
        follow_redirects=True,
        timeout=httpx.Timeout(REQUEST_TIMEOUT),
        headers={"Accept": "*/*"},
    )


def hls_transport(http: httpx.AsyncClient) -> Transport:
    """The `Transport` of HLS requests over ``http``: only ``Accept`` sent, redirects
    followed, `HLS_POLICY`, no deadline but `REQUEST_TIMEOUT` per request."""
    return Transport(
        http,
        headers={"Accept": "*/*"},
        timeout=None,
        policy=HLS_POLICY,
        request_timeout=REQUEST_TIMEOUT,
        follow_redirects=True,
    )


def _cause(exc: BaseException) -> str:
    """The last failure of a request given up on, for `HlsError` (never its URL)."""
    cause = exc.__cause__
    if isinstance(cause, _AttemptTimeout):
        return str(cause)
    return type(cause).__name__ if cause is not None else type(exc).__name__


class HlsFetcher:
    """Streams a live HLS playlist's segments, in order, into a `BytePipe`.

    Args:
        url: the playlist URL (a master playlist picks its highest-bandwidth variant).
        http: the client for playlist and segment requests (see `hls_http_client`); the
            fetcher sends through its own credential-free `Transport` over it.
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
        self._transport = hls_transport(http)
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

        async def attempt(limit: httpx.Timeout) -> httpx.Response:
            try:
                async with asyncio.timeout(PLAYLIST_TIMEOUT):
                    response = await self._transport.open("GET", url, timeout=limit)
                    try:
                        if response.status_code != 200:
                            return response
                        body = bytearray()
                        async for chunk in response.aiter_bytes():
                            body += chunk
                            if len(body) > MAX_PLAYLIST_BYTES:
                                raise HlsError("HLS playlist is larger than 1 MiB")
                    finally:
                        await response.aclose()
            except TimeoutError:
                raise _AttemptTimeout(f"not complete after {PLAYLIST_TIMEOUT:g} s") from None
            return httpx.Response(200, content=bytes(body), request=response.request)

        response = await self._fetch("playlist", url, attempt, attempts)
        return response.content.decode("utf-8", errors="replace"), str(response.url)

    async def _copy(self, url: str, duration: float = 0.0) -> None:
        limit = max(SEGMENT_TIMEOUT, 4 * duration)
        loop = asyncio.get_running_loop()

        async def attempt(timeouts: httpx.Timeout) -> httpx.Response:
            written = 0
            deadline = loop.time() + limit  # moved on while the pipe is full (our decoder)
            try:
                async with asyncio.timeout_at(deadline) as timer:
                    response = await self._transport.open("GET", url, timeout=timeouts)
                    try:
                        if response.status_code != 200:
                            return response
                        async for chunk in response.aiter_bytes():
                            written += len(chunk)
                            if written > MAX_SEGMENT_BYTES:
                                raise HlsError("HLS segment is larger than 256 MiB")
                            timer.reschedule(None)
                            waited = loop.time()
                            await self._pipe.write(chunk)
                            deadline += loop.time() - waited
                            timer.reschedule(deadline)
                        return response
                    finally:
                        await response.aclose()
            except httpx.TransportError as exc:
                if written:
                    raise HlsError(f"HLS segment broke off: {type(exc).__name__}") from None
                raise
            except TimeoutError:
                if written:
                    raise HlsError(f"HLS segment not complete after {limit:g} s") from None
                raise _AttemptTimeout(f"no answer within {limit:g} s") from None

        await self._fetch("segment", url, attempt, self._attempts)

    async def _fetch(self, what: str, url: str, attempt: Attempt, attempts: int) -> httpx.Response:
        """``attempt`` through the transport's retry loop, up to ``attempts`` times; the
        200 response, else `HlsError` naming the last failure."""
        try:
            sent = await self._transport.retrying(
                "GET",
                f"hls.{what}",
                attempt,
                url=url,
                idempotent=True,
                timeout=None,
                retries=attempts - 1,
            )
        except APIConnectionError as exc:  # APITimeoutError too: the last attempt's failure
            raise HlsError(f"HLS {what} failed {attempts} times (last: {_cause(exc)})") from None
        if sent.response.status_code != 200:
            last = f"HTTP {sent.response.status_code}"
            raise HlsError(f"HLS {what} failed {attempts} times (last: {last})")
        return sent.response
