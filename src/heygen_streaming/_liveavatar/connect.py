"""The connect steps of a LiveAvatar session: token, start, the room (and the LITE socket),
the first video frame.

Each REST call runs as its own task and is awaited shielded: a connect given up (timeout,
cancellation) lets a call already sent finish in the background, so the session it
creates or starts is known and stopped by the cleanup (`Connector.session_token`) instead
of being left billed. The LiveKit client loads while the calls are answered (`.preload`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .._errors import ResponseValidationError
from .._http.trace import send_then_load
from . import preload
from .events import LiveAvatarEvent
from .options import LiveAvatarMode

if TYPE_CHECKING:
    from .api import LiveAvatarAPI
    from .lite_socket import LiteSocket
    from .media import MediaHub
    from .room import Room
    from .wire import SessionToken, StartedSession

__all__ = ["Connector"]

logger = logging.getLogger("heygen_streaming")

ROOM_ATTEMPT = 10.0
"""Seconds each signalling attempt of the LiveKit client may take (within connect_timeout)."""


class Connector:
    """Runs the connect steps and keeps what they made (for commands and for cleanup).

    Args:
        api: the REST calls.
        mode: FULL or LITE.
        token_args: the ``/v1/sessions/token`` arguments, or None with ``session_token``.
        session_token: a token made elsewhere (a client made with ``token=``).
        hub: where the room's frames and events go.
        on_full_data / on_lite_event / on_room_gone / on_socket_lost: the session's
            handlers of what the room and the socket report.
        redact: removes credentials from client error text.
    """

    def __init__(
        self,
        api: LiveAvatarAPI,
        mode: LiveAvatarMode,
        *,
        token_args: Mapping[str, Any] | None,
        session_token: str | None,
        hub: MediaHub,
        on_full_data: Callable[[bytes], None],
        on_lite_event: Callable[[LiveAvatarEvent], None],
        on_room_gone: Callable[[str], None],
        on_socket_lost: Callable[[bool], None],
        redact: Callable[[str], str],
        reapers: set[Any],
    ) -> None:
        self.api = api
        self.deadline: float | None = None  # loop time the connect must be done by
        self._reapers = reapers
        self.mode = mode
        self._token_args = token_args
        self.session_token = session_token
        self.session_id: str | None = None
        self.started: StartedSession | None = None
        self.token_task: asyncio.Task[SessionToken] | None = None
        self.start_task: asyncio.Task[StartedSession] | None = None
        self.room: Room | None = None
        self.socket: LiteSocket | None = None
        self._hub = hub
        self._on_full_data = on_full_data
        self._on_lite_event = on_lite_event
        self._on_room_gone = on_room_gone
        self._on_socket_lost = on_socket_lost
        self._redact = redact

    async def run(self) -> None:
        """Token (unless given), start, join, first frame (LITE: and the socket ready)."""
        lite = self.mode is LiveAvatarMode.LITE
        if self.session_token is None:
            assert self._token_args is not None
            call = self.api.create_session_token(**self._token_args)
            task, loading = send_then_load(call, preload.token_loader())
            task.add_done_callback(_retrieve)  # it may fail after the connect gave up
            self.token_task = task
            await loading
            created = await asyncio.shield(task)
            self.session_token, self.session_id = created.session_token, created.session_id
        call_start = self.api.start_session(self.session_token)
        start, loading = send_then_load(call_start, preload.start_loader(lite))
        start.add_done_callback(_retrieve)
        self.start_task = start
        await loading
        started = self.started = await asyncio.shield(start)
        self.session_id = started.session_id
        if not started.livekit_url or not started.livekit_client_token:
            raise ResponseValidationError(
                "the session has no LiveKit room (livekit_url / livekit_client_token): "
                "sessions in your own room (livekit_config) are not supported",
                endpoint="sessions.start",
            )
        if lite and not started.ws_url:
            raise ResponseValidationError(
                "a LITE session without ws_url (its control socket)", endpoint="sessions.start"
            )
        await self._join(started, lite)

    async def _join(self, started: StartedSession, lite: bool) -> None:
        from .room import Room

        self.room = Room(
            self._hub.fanouts,
            on_data=self._on_full_data,
            on_disconnected=self._on_room_gone,
            redact=self._redact,
            reapers=self._reapers,
        )
        assert started.livekit_url is not None and started.livekit_client_token is not None
        attempt = ROOM_ATTEMPT  # the client gives up when the session does
        if self.deadline is not None:
            attempt = min(attempt, max(1.0, self.deadline - asyncio.get_running_loop().time()))
        url, token = started.livekit_url, started.livekit_client_token
        joins = [self.room.connect(url, token, attempt_timeout=attempt)]
        if lite:
            from .lite_socket import LiteSocket

            assert started.ws_url is not None
            self.socket = LiteSocket(
                started.ws_url, on_event=self._on_lite_event, on_lost=self._on_socket_lost
            )
            joins.append(self.socket.open())
        await _all(joins)
        await self._hub.fanouts["video"].first_frame.wait()
        if self.socket is not None:
            await self.socket.ready()


async def _all(steps: list[Any]) -> None:
    """Run ``steps`` together; the first failure cancels the others and is raised."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Mark a call's failure as seen: a connect given up no longer awaits it."""
    if not task.cancelled():
        task.exception()
