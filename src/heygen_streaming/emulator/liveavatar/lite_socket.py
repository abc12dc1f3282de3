"""The LITE control socket (``ws_url``): `LiteProtocol` over an aiohttp WebSocket, driving
the session's `PcmPlayer`.

Frames are read one at a time; each frame's events are queued for sending before the
next frame is read (a client that does not read its events slows its own input down).
Events the avatar causes (speech started/ended) are queued as they happen; a client whose
queue overflows is disconnected. Frames over `HARD_LIMIT` bytes are not read at all: the
socket closes with 1009 (message too big); the session lives on and the client may
reconnect. One socket per session: a new connection replaces the old one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from ..avatar.pcm import BufferFull, PcmPlayer
from .lite import Action, Interrupt, LiteProtocol, Speak, SpeakEnd
from .options import LiveAvatarOptions
from .sessions import LaSession

__all__ = ["HARD_LIMIT", "LiteSocket"]

logger = logging.getLogger("heygen_streaming.emulator")

HARD_LIMIT = 8 << 20
"""Frames larger than this close the socket (1009) instead of getting an ``error`` event."""
MAX_OUTBOX = 10_000
REPLACED = 4001


class LiteSocket:
    """One LITE socket connection of a session."""

    def __init__(self, session: LaSession, player: PcmPlayer, options: LiveAvatarOptions) -> None:
        self.session = session
        self.player = player
        self.options = options
        self.protocol = LiteProtocol(session.session_id)
        self._ws: web.WebSocketResponse | None = None
        self._request: web.Request | None = None
        self._outbox: asyncio.Queue[str | None] = asyncio.Queue(MAX_OUTBOX)
        self._ready: asyncio.TimerHandle | None = None
        self._writer: asyncio.Task[None] | None = None

    async def serve(self, request: web.Request) -> web.WebSocketResponse:
        """Run the socket until the client or the session ends it."""
        ws = web.WebSocketResponse(max_msg_size=HARD_LIMIT, compress=False, timeout=2.0)
        await ws.prepare(request)
        self._ws, self._request = ws, request
        writer = self._writer = asyncio.create_task(self._write(ws))
        self.player.listener = self._heard
        self._emit(self.protocol.opened())
        delay = self.options.lite_ready_delay
        if delay > 0:
            loop = asyncio.get_running_loop()
            self._ready = loop.call_later(delay, lambda: self._emit(self.protocol.ready()))
        else:
            self._emit(self.protocol.ready())
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    data: str | bytes = message.data
                elif message.type == WSMsgType.BINARY:
                    data = bytes(message.data)
                else:
                    break
                events, actions = self.protocol.receive(data)
                for event in events:
                    await self._outbox.put(json.dumps(event))
                for action in actions:
                    self._apply(action)
        finally:
            if self._ready is not None:
                self._ready.cancel()
            if self.player.listener == self._heard:
                self.player.listener = None
            with contextlib.suppress(asyncio.QueueFull):
                self._outbox.put_nowait(None)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(writer, 2.0)
            writer.cancel()
        return ws

    def _apply(self, action: Action) -> None:
        self.session.touch()
        if isinstance(action, Speak):
            try:
                self.player.append(action.event_id, action.pcm)
            except BufferFull as exc:
                self._emit(self.protocol.refused(action.event_id, "buffer_full", str(exc)))
        elif isinstance(action, SpeakEnd):
            self.player.commit(action.event_id)
        elif isinstance(action, Interrupt):
            self.player.interrupt()

    def _heard(self, kind: str, event_id: str) -> None:
        """The player's report: a speech started or ended playing."""
        self.session.touch()
        if kind == "start":
            self._emit(self.protocol.speech_started(event_id))
        else:
            self._emit(self.protocol.speech_ended(event_id))

    def _emit(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            try:
                self._outbox.put_nowait(json.dumps(event))
            except asyncio.QueueFull:
                logger.debug("LITE client does not read its events; disconnecting")
                self._abort()
                return

    async def _write(self, ws: web.WebSocketResponse) -> None:
        while (text := await self._outbox.get()) is not None:
            try:
                await ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    async def end(self, reason: str, *, close_session: bool = True) -> None:
        """Close the socket: the session ended (closing/closed states first) or a newer
        connection replaced this one."""
        ws = self._ws
        if ws is None or ws.closed:
            return
        if close_session:
            self._emit(self.protocol.closing() + self.protocol.closed())
            with contextlib.suppress(asyncio.QueueFull):
                self._outbox.put_nowait(None)
            if self._writer is not None:
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(asyncio.shield(self._writer), 1.0)
        code = WSCloseCode.OK if close_session else REPLACED
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(code=code, message=reason.encode()[:120]), 2.0)

    async def drop(self) -> None:
        """Close the connection abruptly (no close frame): a fault."""
        self._abort()

    def _abort(self) -> None:
        request = self._request
        if request is not None and request.transport is not None:
            request.transport.close()
