"""The emulator's listening socket, with a request-header deadline.

aiohttp has no header timeout: a client that opens a connection and sends its headers one
byte at a time holds it (and a file descriptor) for as long as it likes, and enough of them
lock everyone out. Each connection here must finish its first request's headers (the blank
line ending them) within ``header_timeout`` seconds, or it is closed; and at most
``max_pending`` connections may be waiting for their headers at once (a new one closes the
oldest). Later requests on a kept-alive connection are bounded by aiohttp's keep-alive
timeout, which `Emulator` sets to the same ``header_timeout``: a connection whose next
request's headers are not complete that long after the previous answer is closed.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any

from aiohttp import web

__all__ = ["DEFAULT_HEADER_TIMEOUT", "MAX_PENDING_HEADERS", "HeaderDeadlineSite"]

DEFAULT_HEADER_TIMEOUT = 10.0
MAX_PENDING_HEADERS = 256

_Pending = collections.OrderedDict["_HeaderDeadline", None]


class _HeaderDeadline(asyncio.Protocol):
    """Wraps aiohttp's protocol: closes the connection when headers are late."""

    def __init__(self, inner: Any, timeout: float, pending: _Pending, max_pending: int) -> None:
        self.inner = inner
        self.timeout = timeout
        self._pending = pending
        self._max_pending = max_pending
        self._transport: asyncio.BaseTransport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._timer = asyncio.get_running_loop().call_later(self.timeout, self._expire)
        while len(self._pending) >= self._max_pending:
            oldest, _ = self._pending.popitem(last=False)
            oldest._expire()
        self._pending[self] = None
        self.inner.connection_made(transport)

    def _headers_done(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pending.pop(self, None)

    def _expire(self) -> None:
        self._headers_done()
        if self._transport is not None:
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        if self._timer is not None:
            seen = self._tail + data
            if b"\r\n\r\n" in seen:
                self._headers_done()
            else:
                self._tail = seen[-3:]
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        result: bool | None = self.inner.eof_received()
        return result

    def connection_lost(self, exc: Exception | None) -> None:
        self._headers_done()
        self._transport = None
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class HeaderDeadlineSite(web.BaseSite):
    """A TCP site like ``web.TCPSite`` whose connections get a header deadline."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        header_timeout: float = DEFAULT_HEADER_TIMEOUT,
        max_pending: int = MAX_PENDING_HEADERS,
    ) -> None:
        super().__init__(runner)
        self._host = host
        self._port = port
        self._header_timeout = header_timeout
        self._max_pending = max_pending
        self._pending: _Pending = collections.OrderedDict()
        self.bound_port = port

    @property
    def name(self) -> str:
        """``http://host:port``."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.bound_port}"

    async def start(self) -> None:
        """Listen (registering with the runner first, as aiohttp's sites do)."""
        await super().start()
        server = self._runner.server
        assert server is not None
        timeout, pending, most = self._header_timeout, self._pending, self._max_pending
        loop = asyncio.get_running_loop()
        listener = await loop.create_server(
            lambda: _HeaderDeadline(server(), timeout, pending, most),
            self._host,
            self._port,
            reuse_address=True,
        )
        self._server = listener
        self.bound_port = int(listener.sockets[0].getsockname()[1])
