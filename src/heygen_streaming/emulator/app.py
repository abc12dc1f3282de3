"""The emulator's HTTP core (aiohttp): shared state, auth, CORS, faults; mounts API versions.

aiohttp runs in the same event loop as aiortc, so handlers create and drive peer
connections directly. The core knows no endpoint: each API version (`routes.ApiVersion`,
listed in `versions.API_VERSIONS`) brings its route table and its wire bodies, and the core
runs every request through the same steps (see `heygen_streaming.emulator.routes`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata, resources
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from .faults import Faults
from .liveavatar.options import LiveAvatarOptions
from .livekit import RoomServer
from .routes import ApiVersion, Call, EmulatorError, Principal, Route
from .sessions import SessionRegistry, TokenStore
from .stun import StunResponder
from .v3.options import RealtimeOptions

__all__ = [
    "EMULATOR_HEADER",
    "MAX_BODY_BYTES",
    "MAX_TEXT_LENGTH",
    "PROBE_PATH",
    "EmulatorApp",
    "EmulatorOptions",
]

logger = logging.getLogger("heygen_streaming.emulator")

MAX_TEXT_LENGTH = 10_000
MAX_BODY_BYTES = 1 << 20
EMULATOR_HEADER = "X-HeyGen-Emulator"
"""Sent with every answer (value: the package version): HeyGen never sends it."""
PROBE_PATH = "/emulator"
"""``GET``, no credential: what this emulator is and each API's defaults (`EmulatorApp`)."""
CORS_BASE = {
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "X-Api-Key, Authorization, Content-Type, Accept",
    "Access-Control-Expose-Headers": EMULATOR_HEADER,
    "Access-Control-Max-Age": "600",
}
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_STATIC_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$")
_STATIC_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


@dataclass
class EmulatorOptions:
    """Behaviour switches shared by every API version (see `Emulator` for their meaning)."""

    max_text_length: int = MAX_TEXT_LENGTH
    tts_latency: float = 0.05
    max_queued_tasks: int = 32
    rtcp_feedback: bool = False
    keyframe_interval: float = 2.0
    retransmit: bool = True
    retired: bool = False
    avatars: frozenset[str] | None = None
    realtime: RealtimeOptions = field(default_factory=RealtimeOptions)
    liveavatar: LiveAvatarOptions = field(default_factory=LiveAvatarOptions)
    stamp: bool = False


def _package_version() -> str:
    try:
        return metadata.version("heygen-streaming")
    except metadata.PackageNotFoundError:  # run from a source tree without metadata
        return "0+unknown"


VERSION = _package_version()


class EmulatorApp:
    """The aiohttp application and the state every API version shares.

    It announces itself: every answer carries `EMULATOR_HEADER`, and ``GET /emulator``
    (`PROBE_PATH`) describes it (`describe`).
    """

    def __init__(
        self,
        *,
        api_keys: Sequence[str] | None,
        max_sessions: int,
        max_total_sessions: int,
        idle_timeout: float | None,
        duration_limit: float,
        token_ttl: float,
        options: EmulatorOptions,
        versions: Sequence[Callable[[EmulatorApp], ApiVersion]],
    ) -> None:
        self.api_keys = frozenset(api_keys) if api_keys is not None else None
        self.registry = SessionRegistry(
            max_sessions=max_sessions,
            max_total=max_total_sessions,
            idle_timeout=idle_timeout,
            duration_limit=duration_limit,
        )
        self.tokens = TokenStore(token_ttl)
        self.faults = Faults()
        self.options = options
        self.ice_servers: list[dict[str, Any]] = []
        self.stun: StunResponder | None = None
        self.base_url = ""
        self.faults._freeze = self._freeze
        self.faults._drop = self._drop_all
        self.app = web.Application(middlewares=[self._middleware], client_max_size=MAX_BODY_BYTES)
        self.app.on_response_prepare.append(self._identify)
        self.app.router.add_get("/", self._index)
        self.app.router.add_get("/static/{file}", self._static)
        self.app.router.add_get(PROBE_PATH, self._probe)
        # LiveKit-compatible rooms (/rtc, /rtc/v1): the room server knows no API version.
        self.rooms = RoomServer()
        self.rooms.add_routes(self.app)
        self.versions: list[ApiVersion] = []
        self._credentialed: set[str] = set()
        for factory in versions:
            self.mount(factory(self))
        self.faults.endpoints = frozenset(
            route.endpoint for version in self.versions for route in version.routes()
        )

    def mount(self, version: ApiVersion) -> None:
        """Add ``version``'s route table (its first mounted version renders stray errors)."""
        self.versions.append(version)
        for route in version.routes():
            if version.cors_credentials:
                self._credentialed.add(route.path)
            handler = self._wrap(version, route)
            for method in route.methods:
                self.app.router.add_route(method, route.path, handler)
            if "OPTIONS" not in route.methods:
                self.app.router.add_route("OPTIONS", route.path, self._preflight)

    # -- shared helpers for API versions --------------------------------------------------
    def principal_for(self, request: web.Request, *, allow_token: bool) -> Principal | None:
        """The caller by ``X-Api-Key`` (or a live bearer token when ``allow_token``)."""
        key = request.headers.get("X-Api-Key", "").strip()
        if key:
            if self.api_keys is not None and key not in self.api_keys:
                return None
            return Principal(key)
        auth = request.headers.get("Authorization", "").strip()
        if allow_token and auth[:7].lower() == "bearer ":
            token = auth[7:].strip()
            owner = self.tokens.owner(token)
            return None if owner is None else Principal(owner, token)
        return None

    def ice_servers_for(self, request: web.Request) -> list[dict[str, Any]]:
        """The ICE servers to list for this request: the configured ones, else the STUN
        responder at the local address the client reached (this machine, never another)."""
        if self.stun is None:
            return list(self.ice_servers)
        if not self.stun.wildcard:
            return [self.stun.ice_server()]
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        return [self.stun.ice_server(str(sockname[0]) if sockname else None)]

    # -- request pipeline --------------------------------------------------------------
    def _wrap(self, version: ApiVersion, route: Route) -> Callable[[web.Request], Awaitable[Any]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            try:
                principal = version.authenticate(request, route.endpoint)
                delay = self.faults.take_delay(route.endpoint)
                if delay > 0:
                    await asyncio.sleep(delay)
                rule = self.faults.take_failure(route.endpoint)
                if rule is not None and not rule.after:
                    return self._fault(request, version, rule.kind, rule.status, rule.retry_after)
                body = await self._json_body(request, version, route.body)
                response = await route.handler(Call(request, self, principal, body))
                if rule is not None:
                    return self._fault(request, version, rule.kind, rule.status, rule.retry_after)
                return response
            except EmulatorError as err:
                return self._error(version, err)

        return handle

    def _error(self, version: ApiVersion | None, err: EmulatorError) -> web.Response:
        version = version or (self.versions[0] if self.versions else None)
        body = version.error_body(err) if version else {"message": err.message}
        return web.json_response(body, status=err.status, headers=err.headers)

    def _fault(
        self,
        request: web.Request,
        version: ApiVersion,
        kind: str,
        status: int,
        retry_after: float | None,
    ) -> web.StreamResponse:
        headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        if kind == "disconnect":
            if request.transport is not None:
                request.transport.close()  # the client sees the connection drop
            return web.Response(status=status, headers=headers)
        if kind == "garbage":
            return web.Response(status=status, text="<html>upstream exploded", headers=headers)
        status, body = version.fault_body(kind, status)
        return web.json_response(body, status=status, headers=headers)

    async def _json_body(
        self, request: web.Request, version: ApiVersion, need: str
    ) -> dict[str, Any]:
        raw = await request.read()
        if need == "none" or (need == "optional" and not raw.strip()):
            return {}
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise version.invalid("Malformed JSON body") from None
        if not isinstance(body, dict):
            raise version.invalid("Request body must be a JSON object")
        return body

    def _cors(self, request: web.Request) -> dict[str, str]:
        """Any origin when a key is required; loopback origins only in any-key mode. Routes
        of a version with `ApiVersion.cors_credentials` name the origin and allow credentials
        (a browser's ``fetch(..., {credentials: "include"})`` needs both)."""
        origin = request.headers.get("Origin")
        resource = request.match_info.route.resource
        credentialed = resource is not None and resource.canonical in self._credentialed
        if self.api_keys is not None:
            if credentialed and origin is not None:
                return {
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Allow-Credentials": "true",
                    "Vary": "Origin",
                    **CORS_BASE,
                }
            return {"Access-Control-Allow-Origin": "*", **CORS_BASE}
        if origin is None:
            return {}
        try:
            host = urlsplit(origin).hostname
        except ValueError:
            host = None
        if host not in LOOPBACK_HOSTS:
            return {}
        allowed = {"Access-Control-Allow-Origin": origin, "Vary": "Origin", **CORS_BASE}
        if credentialed:
            allowed["Access-Control-Allow-Credentials"] = "true"
        return allowed

    async def _preflight(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=204)

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            response = await handler(request)
        except EmulatorError as err:
            response = self._error(None, err)
        except web.HTTPException as exc:
            response = self._error(None, EmulatorError(exc.status, exc.status, exc.reason or ""))
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("emulator handler failed")
            response = self._error(None, EmulatorError(500, 500, "Internal error"))
        if not response.prepared:
            response.headers.update(self._cors(request))
        return response

    # -- identity and reset --------------------------------------------------------------
    async def _identify(self, request: web.Request, response: web.StreamResponse) -> None:
        response.headers[EMULATOR_HEADER] = VERSION

    def describe(self) -> dict[str, Any]:
        """The ``GET /emulator`` body: the emulator, its version, whether it checks keys,
        and each API version's own description (`ApiVersion.describe`) by name."""
        return {
            "emulator": "heygen-streaming",
            "version": VERSION,
            "auth": "any_key" if self.api_keys is None else "api_key",
            "apis": {version.name: version.describe() for version in self.versions},
        }

    async def _probe(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.describe(), headers={"Cache-Control": "no-store"})

    async def reset(self) -> int:
        """End every session and stream of every API, forget tokens, clear faults: the state
        of a fresh emulator, with its port and settings kept. Returns how many sessions and
        streams were ended. The core ends the sessions of its registry (v1's); each API
        version ends its own (`ApiVersion.reset`)."""
        self.faults.clear()
        self.tokens = TokenStore(self.tokens.ttl)
        ended = await self.registry.close_all("emulator reset")
        for version in self.versions:
            ended += await version.reset()
        return ended

    # -- faults -----------------------------------------------------------------------------
    def _freeze(self, session_id: str | None, frozen: bool) -> int:
        count = sum(version.freeze_media(session_id, frozen) for version in self.versions)
        for session in list(self.registry.sessions.values()):
            if session_id is None or session.session_id == session_id:
                if frozen:
                    session.state.freeze()
                else:
                    session.state.thaw()
                count += 1
        return count

    async def _drop_all(self) -> int:
        count = await self.registry.close_all("dropped", abrupt=True)
        for version in self.versions:
            count += await version.drop_all()
        return count

    # -- the emulator's own page ------------------------------------------------------------
    async def _index(self, request: web.Request) -> web.StreamResponse:
        return self._static_file("index.html")

    async def _static(self, request: web.Request) -> web.StreamResponse:
        return self._static_file(request.match_info["file"])

    def _static_file(self, name: str) -> web.StreamResponse:
        suffix = name[name.rfind(".") :] if "." in name else ""
        if not _STATIC_NAME.match(name) or ".." in name or suffix not in _STATIC_TYPES:
            raise EmulatorError(404, 404, "Not found")
        try:
            text = resources.files(__package__).joinpath("static", name).read_text("utf-8")
        except (OSError, ValueError):
            raise EmulatorError(404, 404, "Not found") from None
        return web.Response(text=text, content_type=_STATIC_TYPES[suffix])
