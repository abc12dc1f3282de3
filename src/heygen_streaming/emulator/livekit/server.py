"""`RoomServer`: LiveKit's signalling routes on an aiohttp application, and its rooms.

Joins are admitted as LiveKit's server admits them (``pkg/service/rtcservice.go``), in
this order, each refusal an HTTP status before the WebSocket upgrade:

==================================================  ======  ==================================
request                                             status  text
==================================================  ======  ==================================
token missing, malformed, expired, bad signature    401     see `tokens` (its table)
no identity / no room in the token                  400     identity cannot be empty / no ...
``/rtc/v1`` without or with a bad ``join_request``  400     join_request is required / cannot
                                                            ... (also over 1 MiB unpacked)
not a WebSocket upgrade                             404     (empty)
room not on this server                             404     requested room does not exist
joins refused (`RoomServer.refuse_joins`)            chosen  joins refused
64 clients in the room or 256 in all, or closed     503     node has exceeded its configured
                                                            limit
==================================================  ======  ==================================

The official clients try ``/rtc/v1`` first and fall back to ``/rtc`` only on a 404; on any
other refusal they call ``/rtc/validate`` (or ``/rtc/v1/validate``), which answers the
same status and text, or 200 ``success``. A second connection with the identity of a
connected client replaces it (the first gets ``leave`` DUPLICATE_IDENTITY), as in LiveKit.
"""

from __future__ import annotations

import logging

from aiohttp import web

from .room import Room, RoomObserver
from .session import ClientSession
from .tokens import MAX_NAME_LENGTH, Grant, JoinRefused, TokenAuthority
from .wire import (
    MAX_SIGNAL_BYTES,
    PING_TIMEOUT,
    ConnectOptions,
    decode_join_request,
    leave,
    v0_options,
)

__all__ = ["RoomServer"]

logger = logging.getLogger("heygen_streaming.emulator.livekit")

MAX_CLIENTS_PER_ROOM = 64
MAX_CLIENTS = 256
WS_CLOSE_TIMEOUT = 2.0
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "Authorization",
    "Access-Control-Allow-Methods": "GET, OPTIONS",
}


class RoomServer:
    """A LiveKit-compatible room server inside an aiohttp application (one per app).

    Args:
        api_key, api_secret: the key pair tokens are signed with (random when ``None``).
        max_clients_per_room, max_clients: concurrent client connections admitted.
        ping_timeout: seconds a client may stay silent before it is dropped (its join
            response asks for a ping at least every third of it; LiveKit: 15).
    """

    def __init__(
        self,
        api_key: str | None = None,
        api_secret: str | None = None,
        *,
        max_clients_per_room: int = MAX_CLIENTS_PER_ROOM,
        max_clients: int = MAX_CLIENTS,
        ping_timeout: int = PING_TIMEOUT,
    ) -> None:
        if ping_timeout < 1:
            raise ValueError("ping_timeout is at least 1 second")
        self.tokens = TokenAuthority(api_key, api_secret)
        self.ping_timeout = ping_timeout
        self.max_clients_per_room = max_clients_per_room
        self.max_clients = max_clients
        self.rooms: dict[str, Room] = {}
        self._refused: dict[str | None, int] = {}
        self._admitted: dict[str, int] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"RoomServer(api_key={self.api_key!r}, rooms={sorted(self.rooms)})"

    @property
    def api_key(self) -> str:
        """The API key (``iss`` of every token)."""
        return self.tokens.api_key

    @property
    def api_secret(self) -> str:
        """The API secret tokens are signed with."""
        return self.tokens.api_secret

    def add_routes(self, app: web.Application) -> None:
        """Serve ``/rtc``, ``/rtc/v1`` and their ``/validate`` on ``app``."""
        app.router.add_get("/rtc", self._v0)
        app.router.add_get("/rtc/v1", self._v1)
        for path, single in (("/rtc/validate", False), ("/rtc/v1/validate", True)):
            app.router.add_get(path, self._validate_v1 if single else self._validate_v0)
            app.router.add_route("OPTIONS", path, self._preflight)

    def livekit_url(self, request: web.Request) -> str:
        """``ws://<Host header>`` (``wss`` behind TLS): the server as the caller reaches it
        (without a Host header: the address the request came in on)."""
        host = request.headers.get("Host", "")
        if not host:
            sockname = request.transport.get_extra_info("sockname") if request.transport else None
            if sockname:
                address = str(sockname[0])
                host = (
                    f"[{address}]:{sockname[1]}" if ":" in address else f"{address}:{sockname[1]}"
                )
            else:
                host = request.host
        return f"{'wss' if request.secure else 'ws'}://{host}"

    def token(
        self,
        *,
        room: str,
        identity: str,
        name: str = "",
        ttl: float = 3600.0,
        can_publish: bool = True,
        can_subscribe: bool = True,
        can_publish_data: bool = True,
        metadata: str = "",
    ) -> str:
        """A LiveKit join token (JWT) for ``identity`` in ``room``."""
        return self.tokens.mint(
            room=room,
            identity=identity,
            name=name,
            ttl=ttl,
            can_publish=can_publish,
            can_subscribe=can_subscribe,
            can_publish_data=can_publish_data,
            metadata=metadata,
        )

    def create_room(self, name: str, observer: RoomObserver | None = None) -> Room:
        """A new room named ``name`` (ValueError if it exists or the name is unusable)."""
        if not name or len(name) > MAX_NAME_LENGTH:
            raise ValueError("a room name has 1 to 256 characters")
        if name in self.rooms:
            raise ValueError(f"room {name!r} exists")
        room = Room(name, observer, on_closed=self._room_closed)
        self.rooms[name] = room
        return room

    def room(self, name: str) -> Room | None:
        """The open room named ``name``, if any."""
        return self.rooms.get(name)

    def refuse_joins(self, room_name: str | None = None, status: int = 503) -> None:
        """Refuse joins to ``room_name`` (every room when ``None``) with HTTP ``status``."""
        if not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        self._refused[room_name] = status

    def allow_joins(self, room_name: str | None = None) -> None:
        """Undo `refuse_joins` for ``room_name`` (``None``: the every-room refusal)."""
        self._refused.pop(room_name, None)

    allow = allow_joins

    async def aclose(self) -> None:
        """Close every room (each client gets ``leave`` SERVER_SHUTDOWN); refuse new joins."""
        self._closed = True
        for room in list(self.rooms.values()):
            await room.close("SERVER_SHUTDOWN")

    def _room_closed(self, room: Room) -> None:
        if self.rooms.get(room.name) is room:
            del self.rooms[room.name]

    # -- admission ------------------------------------------------------------------------
    def _admit(self, request: web.Request, single: bool) -> tuple[Grant, ConnectOptions, Room]:
        grant = self.tokens.verify(_token(request))
        if single:
            options = decode_join_request(request.query.get("join_request", ""))
        else:
            options = v0_options(request.query)
        room = self.rooms.get(grant.room)
        if room is None or room.closed:
            raise JoinRefused(404, "requested room does not exist")
        status = self._refused.get(grant.room, self._refused.get(None))
        if status is not None:
            raise JoinRefused(status, "joins refused")
        replacing = grant.identity in room.sessions
        in_room = self._admitted.get(room.name, 0) - replacing
        total = sum(self._admitted.values()) - replacing
        if self._closed or in_room >= self.max_clients_per_room or total >= self.max_clients:
            raise JoinRefused(503, "node has exceeded its configured limit")
        return grant, options, room

    async def _v0(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, single=False)

    async def _v1(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, single=True)

    async def _serve(self, request: web.Request, *, single: bool) -> web.StreamResponse:
        ws = web.WebSocketResponse(
            max_msg_size=MAX_SIGNAL_BYTES, compress=False, timeout=WS_CLOSE_TIMEOUT
        )
        try:
            grant, options, room = self._admit(request, single)
            if not ws.can_prepare(request).ok:
                raise JoinRefused(404, "")
        except JoinRefused as refused:
            return web.Response(status=refused.status, text=refused.message)
        self._admitted[room.name] = self._admitted.get(room.name, 0) + 1
        try:
            await ws.prepare(request)
            if options.reconnect:  # resume is not offered (join response): join again
                await ws.send_bytes(leave("STATE_MISMATCH", reconnect=True).SerializeToString())
                await ws.close()
                return ws
            previous = room.sessions.get(grant.identity)
            if previous is not None:
                await previous.kick("DUPLICATE_IDENTITY")
            if room.closed:
                await ws.close()
                return ws
            await ClientSession(room, grant, options, ws, ping_timeout=self.ping_timeout).run()
        finally:
            count = self._admitted.get(room.name, 1) - 1
            if count:
                self._admitted[room.name] = count
            else:
                self._admitted.pop(room.name, None)
        return ws

    async def _validate_v0(self, request: web.Request) -> web.Response:
        return self._validate(request, single=False)

    async def _validate_v1(self, request: web.Request) -> web.Response:
        return self._validate(request, single=True)

    def _validate(self, request: web.Request, *, single: bool) -> web.Response:
        try:
            self._admit(request, single)
        except JoinRefused as refused:
            return web.Response(status=refused.status, text=refused.message, headers=_CORS)
        return web.Response(text="success", headers=_CORS)

    async def _preflight(self, request: web.Request) -> web.Response:
        return web.Response(status=204, headers=_CORS)


def _token(request: web.Request) -> str:
    """The bearer token (``Authorization`` header, else the ``access_token`` parameter)."""
    header = request.headers.get("Authorization")
    if header is not None:
        if not header.startswith("Bearer "):
            raise JoinRefused(401, "invalid authorization header. Must start with Bearer ")
        return header[len("Bearer ") :].strip()
    return request.query.get("access_token", "")
