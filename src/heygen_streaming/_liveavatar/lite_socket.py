"""The LITE control socket (``ws_url``): JSON text frames both ways, with ``websockets``.

The service drops commands sent before it says ``session.state_updated: connected``
(silently), so `LiteSocket.ready` is awaited before any. A socket that drops while the
session lives is opened again (the session goes on; a new connection replaces the old),
a few times within `RECONNECT_WINDOW`; a socket that closes after ``closing`` / ``closed``
means the session ended. The URL carries a credential: it is never logged or put in an
error message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from .._errors import sanitize
from .events import LiveAvatarEvent, StateChanged, parse_lite

__all__ = ["MAX_MESSAGE", "RECONNECT_WINDOW", "LiteSocket"]

logger = logging.getLogger("heygen_streaming")

MAX_MESSAGE = 4 << 20
"""Largest message read from the service (its events are small)."""
RECONNECT_WINDOW = 10.0
RECONNECTS = 3
OPEN_TIMEOUT = 10.0
ENDED_STATES = frozenset({"closing", "closed"})


class LiteSocket:
    """One session's control socket.

    Args:
        url: ``ws_url`` from ``/v1/sessions/start`` (a credential: never logged).
        on_event: called with each event read.
        on_lost: called once when the socket is gone for good: with True when the service
            said the session ended (``closing`` / ``closed``), False when it dropped and
            could not be opened again.
    """

    def __init__(
        self,
        url: str,
        *,
        on_event: Callable[[LiveAvatarEvent], None],
        on_lost: Callable[[bool], None],
    ) -> None:
        self._url = url
        self._on_event = on_event
        self._on_lost = on_lost
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._send_lock = asyncio.Lock()
        self.ended_by_service = False
        self._closing = False

    def __repr__(self) -> str:
        return f"<LiteSocket ready={self._ready.is_set()}>"

    async def open(self) -> None:
        """Connect and start reading; `ready` tells when commands count."""
        self._ws = await self._connect()
        self._reader = asyncio.ensure_future(self._read())

    async def _connect(self) -> ClientConnection:
        try:
            return await connect(
                self._url,
                max_size=MAX_MESSAGE,
                compression=None,
                open_timeout=OPEN_TIMEOUT,
                ping_interval=20,
                ping_timeout=20,
                user_agent_header=None,
                logger=_RedactedLogger(self._url),
            )
        except (OSError, WebSocketException, TimeoutError) as exc:
            raise ConnectionError(f"the LITE socket did not open ({_describe(exc)})") from None

    async def ready(self) -> None:
        """Return once the service said ``connected``."""
        await self._ready.wait()

    @property
    def is_ready(self) -> bool:
        """True once the service said ``connected`` (until the socket drops)."""
        return self._ready.is_set()

    async def send(self, message: dict[str, Any]) -> None:
        """Send one command (waits for ``connected``, and for a socket being reopened)."""
        text = json.dumps(message, separators=(",", ":"))
        await self._ready.wait()
        async with self._send_lock:
            ws = self._ws
            if ws is None:
                raise ConnectionError("the LITE socket is closed")
            try:
                await ws.send(text)
            except ConnectionClosed:
                raise ConnectionError("the LITE socket closed while sending") from None

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        window_start = loop.time()
        reconnects = 0
        while True:
            ws = self._ws
            assert ws is not None
            try:
                async for message in ws:
                    self._handle(message)
            except ConnectionClosed:
                pass
            self._ready.clear()
            if self._closing:
                return
            if self.ended_by_service:
                self._on_lost(True)
                return
            if loop.time() - window_start > RECONNECT_WINDOW:
                window_start, reconnects = loop.time(), 0
            if reconnects >= RECONNECTS:
                self._on_lost(False)
                return
            reconnects += 1
            logger.info("LITE socket dropped: opening it again (%d/%d)", reconnects, RECONNECTS)
            try:
                await asyncio.sleep(0.2 * reconnects)
                self._ws = await self._connect()
            except ConnectionError as exc:
                logger.warning("%s", exc)
                self._on_lost(False)
                return

    def _handle(self, message: str | bytes) -> None:
        event = parse_lite(message)
        if isinstance(event, StateChanged):
            if event.state == "connected":
                self._ready.set()
            elif event.state in ENDED_STATES:
                self.ended_by_service = True
        self._on_event(event)

    async def close(self) -> None:
        """Close the socket and stop reading (bounded)."""
        self._closing = True
        self._ready.set()  # senders waiting for connected find it closed
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2.0)
        reader = self._reader
        if reader is not None and not reader.done():
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader


class _RedactedLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """``websockets.client``'s logger with the socket's credential blanked: at DEBUG the
    library logs the request line, whose query carries it."""

    def __init__(self, url: str) -> None:
        super().__init__(logging.getLogger("websockets.client"), {})
        query = urlsplit(url).query
        self._secrets = [v for part in query.split("&") if (v := part.partition("=")[2])]

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        text = str(msg) % args if args else str(msg)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        kwargs.setdefault("stacklevel", 2)
        self.logger.log(level, "%s", text, **kwargs)


def _describe(exc: BaseException) -> str:
    """A connection failure without the URL (it carries the socket's token)."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status is not None:
        return f"HTTP {status}"
    detail = f": {sanitize(str(exc), limit=80)}" if isinstance(exc, OSError) else ""
    return type(exc).__name__ + detail
