"""HLS playback, the network half: a blocking byte pipe and a live playlist fetcher.

`HlsFetcher` polls a live media playlist and streams every segment (after the ``EXT-X-MAP``
init section, for fMP4) in order into a `BytePipe`, as soon as the segment is listed; a
worker thread reads the pipe as one continuous file (MPEG-TS or fragmented MP4) with PyAV.
It ends at ``#EXT-X-ENDLIST``, or after one last reload once told the stream is over.

The playlist URL authorises itself: every request goes through a `Transport` of its own
(the package's one send path and retry loop, `HLS_POLICY`), which sends no API key and no
``Authorization`` header (the URL may be on another host). Its HTTP client is
`hls_http_client` unless one is injected (``StreamingClient(hls_http_client=...)``).

The server is not trusted (issue 18): the reader follows one master playlist at most (a
master listing itself looped), reloads no faster than RFC 8216 6.3.4 allows, spends a
bounded budget of retries (`RetryBudget`), parses a changed playlist off the event loop
(and the parser refuses more than `playlist.MAX_LINES` lines), gives each segment
`SEGMENT_TIMEOUT` whatever duration it claims (and `FINISH_GRACE` once the service said
the stream ended), and fetches only from the hosts `HostPolicy` allows, redirects
followed here, hop by hop, so that each is checked.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
from collections.abc import Collection
from urllib.parse import urljoin

import httpx

from ..._errors import APIConnectionError
from ..._http.retry import RetryPolicy
from ..._http.tls import ssl_context
from ..._http.transport import Attempt, Transport
from .hosts import HostPolicy
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
"""Seconds one segment may spend on the network (waiting for the decoder excluded),
whatever duration its ``#EXTINF`` claims."""
FINISH_GRACE = 5.0
"""Seconds a segment may still take once the service said the stream ended."""
MAX_REDIRECTS = 5
"""Redirects one playlist or segment request may follow."""
MAX_VARIANT_DEPTH = 1
"""Master playlists followed before a media playlist (RFC 8216: a master lists media
playlists; one that lists a master, or itself, is refused)."""
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
    """An HTTP client for playlists and segments: no credentials (the fetcher follows
    redirects itself, each hop checked)."""
    return httpx.AsyncClient(
        verify=ssl_context(),
        timeout=httpx.Timeout(REQUEST_TIMEOUT),
        headers={"Accept": "*/*"},
    )


def hls_transport(http: httpx.AsyncClient) -> Transport:
    """The `Transport` of HLS requests over ``http``: only ``Accept`` sent, `HLS_POLICY`,
    no deadline but `REQUEST_TIMEOUT` per request, redirects left to the fetcher (whatever
    ``http`` was built with)."""
    return Transport(
        http,
        headers={"Accept": "*/*"},
        timeout=None,
        policy=HLS_POLICY,
        request_timeout=REQUEST_TIMEOUT,
        follow_redirects=False,
    )


RETRY_TOKENS = 10.0
"""Retries one fetcher may spend in a burst."""
RETRY_REFUND = 0.1
"""Retries earned back by each request that succeeds (about one failure in ten, forever)."""


class RetryBudget:
    """The retries one fetcher may still spend: a token bucket (`RETRY_TOKENS`, refilled by
    `RETRY_REFUND` per success), so a server failing every other request cannot keep the
    reader busy forever, while a rare failure over a long stream is always retried."""

    def __init__(self, tokens: float = RETRY_TOKENS, refund: float = RETRY_REFUND) -> None:
        self.tokens = self.most = tokens
        self.refund = refund

    def available(self) -> int:
        """Retries the next request may use."""
        return int(self.tokens)

    def spend(self, retries: int) -> None:
        """``retries`` were used."""
        self.tokens = max(self.tokens - retries, 0.0)

    def earn(self) -> None:
        """A request succeeded."""
        self.tokens = min(self.tokens + self.refund, self.most)


def _size(count: int) -> str:
    return f"{count >> 20} MiB" if count >= 1 << 20 and not count % (1 << 20) else f"{count} bytes"


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
        attempts: attempts of one request before giving up (retries also draw on the
            fetcher's `RetryBudget`).
        hosts: hosts allowed besides the playlist's own (see `HostPolicy`).

    Attributes:
        container: ``"mp4"`` or ``"mpegts"`` once known (see `wait_container`).
        segments: segments written so far.
        requests: requests sent (attempts and redirect hops).
    """

    def __init__(
        self,
        url: str,
        http: httpx.AsyncClient,
        pipe: BytePipe,
        *,
        min_poll: float = 0.1,
        attempts: int = 5,
        hosts: Collection[str] = (),
    ) -> None:
        self.url = url
        self._transport = hls_transport(http)
        self._pipe = pipe
        self._min_poll = min_poll
        self._attempts = attempts
        self._hosts = tuple(hosts)
        self._policy: HostPolicy | None = None
        self._budget = RetryBudget()
        self._finish = asyncio.Event()
        self._finish_at: float | None = None
        self._timer: asyncio.Timeout | None = None
        self._container_known = asyncio.Event()
        self.container: str | None = None
        self.segments = 0
        self.requests = 0

    def finish(self) -> None:
        """The stream is over: write what the next reload lists, then end; a segment on
        its way gets at most `FINISH_GRACE` more seconds."""
        if self._finish_at is None:
            self._finish_at = asyncio.get_running_loop().time() + FINISH_GRACE
        if self._timer is not None and self._timer.when() is not None:
            self._timer.reschedule(self._bound(self._timer.when()))
        self._finish.set()

    def _bound(self, deadline: float | None) -> float | None:
        if self._finish_at is None or deadline is None:
            return deadline
        return min(deadline, self._finish_at)

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
        self._policy = policy = HostPolicy(url, self._hosts)
        top = True  # the playlist the service gave (its redirects set the allowed origin)
        depth = 0
        next_seq: int | None = None
        init_written: str | None = None
        last_text: str | None = None
        playlist = Playlist()
        loop = asyncio.get_running_loop()
        while True:
            finishing = self._finish.is_set()
            over = finishing and next_seq is not None
            began = loop.time()
            try:
                text, base = await self._text(url, 1 if over else self._attempts, top=top)
            except HlsError:
                if over:
                    return  # the stream is over and its playlist already gone
                raise
            changed = text != last_text
            if changed:  # off the loop: a playlist may be 1 MiB of attacker-chosen lines
                playlist = await asyncio.to_thread(parse_playlist, text, base)
                last_text = text
            if playlist.variants:
                if depth >= MAX_VARIANT_DEPTH:
                    raise HlsError("HLS master playlist lists another master playlist: refused")
                depth += 1
                url, top, last_text = max(playlist.variants)[1], False, None
                policy.check(url, "variant playlist")
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
                    await self._copy(playlist.init_uri, "init section")
                    init_written = playlist.init_uri
                await self._copy(segment.uri, "segment")
                self.segments += 1
                next_seq = segment.sequence + 1
                logger.debug(
                    "HLS: segment %d (%.2f s) fetched %.0f ms after the playlist listing it",
                    segment.sequence,
                    segment.duration,
                    (loop.time() - began) * 1000,
                )
            if playlist.ended or finishing:
                return
            # RFC 8216 6.3.4: after a load that changed the playlist, wait at least the
            # target duration before the next; after one that did not, half of it; both
            # measured from when that load began.
            target = max(
                playlist.target_duration or 0.0,
                max((s.duration for s in playlist.segments), default=0.0),
                self._min_poll,
            )
            pause = max(began + (target if changed else target / 2) - loop.time(), 0.0)
            try:
                async with asyncio.timeout(pause):
                    await self._finish.wait()
            except TimeoutError:
                pass

    async def _open(
        self, url: str, what: str, limit: httpx.Timeout, *, anywhere: bool
    ) -> httpx.Response:
        """``GET url``, following up to `MAX_REDIRECTS` redirects, each hop checked by the
        `HostPolicy` (``anywhere``: the playlist the service gave may redirect to any
        host but a forbidden one)."""
        assert self._policy is not None
        for _ in range(MAX_REDIRECTS + 1):
            self.requests += 1
            response = await self._transport.open("GET", url, timeout=limit)
            location = response.headers.get("location")
            if not (300 <= response.status_code < 400 and location):
                return response
            await response.aclose()
            url = urljoin(str(response.url), location)
            self._policy.check(url, what, origin_only=not anywhere)
        raise HlsError(f"HLS {what} redirected more than {MAX_REDIRECTS} times")

    async def _text(self, url: str, attempts: int, *, top: bool) -> tuple[str, str]:
        """The playlist's text and its final URL (after redirects)."""

        async def attempt(limit: httpx.Timeout) -> httpx.Response:
            try:
                async with asyncio.timeout(PLAYLIST_TIMEOUT):
                    response = await self._open(url, "playlist", limit, anywhere=top)
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
        final = str(response.url)
        if top:
            assert self._policy is not None
            self._policy.landed(final)  # its redirect target is the playlist's origin too
        return response.content.decode("utf-8", errors="replace"), final

    async def _copy(self, url: str, what: str) -> None:
        assert self._policy is not None
        self._policy.check(url, what)
        loop = asyncio.get_running_loop()

        async def attempt(timeouts: httpx.Timeout) -> httpx.Response:
            written = 0
            deadline = loop.time() + SEGMENT_TIMEOUT  # moved on while our decoder is behind
            try:
                async with asyncio.timeout_at(self._bound(deadline)) as timer:
                    self._timer = timer
                    response = await self._open(url, what, timeouts, anywhere=False)
                    try:
                        if response.status_code != 200:
                            return response
                        async for chunk in response.aiter_bytes():
                            written += len(chunk)
                            if written > MAX_SEGMENT_BYTES:
                                raise HlsError(
                                    f"HLS {what} is larger than the reader's cap of "
                                    f"{_size(MAX_SEGMENT_BYTES)}: refused"
                                )
                            timer.reschedule(None)
                            waited = loop.time()
                            await self._pipe.write(chunk)
                            deadline += loop.time() - waited
                            timer.reschedule(self._bound(deadline))
                        return response
                    finally:
                        self._timer = None
                        await response.aclose()
            except httpx.TransportError as exc:
                if written:
                    raise HlsError(f"HLS {what} broke off: {type(exc).__name__}") from None
                raise
            except TimeoutError:
                if written:
                    raise HlsError(f"HLS {what} not complete in time ({self._why()})") from None
                raise _AttemptTimeout(f"no answer in time ({self._why()})") from None

        await self._fetch(what, url, attempt, self._attempts)

    def _why(self) -> str:
        if self._finish_at is not None:
            return f"FINISH_GRACE={FINISH_GRACE:g} s after the stream ended"
        return f"SEGMENT_TIMEOUT={SEGMENT_TIMEOUT:g} s"

    async def _fetch(self, what: str, url: str, attempt: Attempt, attempts: int) -> httpx.Response:
        """``attempt`` through the transport's retry loop, up to ``attempts`` times and
        what the `RetryBudget` allows; the 200 response, else `HlsError` naming the last
        failure (its HTTP status, or the error)."""
        tries = 0

        async def counted(limit: httpx.Timeout) -> httpx.Response:
            nonlocal tries
            tries += 1
            return await attempt(limit)

        retries = min(attempts - 1, self._budget.available())
        try:
            sent = await self._transport.retrying(
                "GET", f"hls.{what}", counted, url=url, idempotent=True, timeout=None,
                retries=retries,
            )  # fmt: skip
        except APIConnectionError as exc:  # APITimeoutError too: the last attempt's failure
            self._budget.spend(max(tries - 1, 0))
            raise HlsError(f"HLS {what} failed {tries} times (last: {_cause(exc)})") from None
        self._budget.spend(max(tries - 1, 0))
        if sent.response.status_code != 200:
            last = f"HTTP {sent.response.status_code}"
            raise HlsError(f"HLS {what} failed {tries} times (last: {last})")
        self._budget.earn()
        return sent.response
