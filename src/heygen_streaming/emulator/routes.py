"""How an API version plugs into the emulator: `ApiVersion`, `Route`, `Call`, `EmulatorError`.

The app core (`heygen_streaming.emulator.app`) owns what every version shares: accepted keys,
tokens, the session registry and its limits, fault injection, CORS, the STUN responder and
the avatar options. An API version is one module holding one `ApiVersion` subclass: its route
table, its request schemas and its wire bodies (success and error envelopes). To add one:

1. write ``emulator/<version>.py`` with ``class MyApi(ApiVersion)``: ``name``, `routes`
   (each `Route` names its fault-injection endpoint), `error_body` and, if its envelope
   differs from v1's, `fault_body`; if it keeps sessions of its own (not in
   ``app.registry``), `reset` to end them; `describe` for what ``GET /emulator`` says of it
   (e.g. the default avatar id a client may use);
2. add the class to `heygen_streaming.emulator.versions.API_VERSIONS`.

A handler receives a `Call`: the request, the authenticated owner (an account = an API key),
the bearer token when one was used, the parsed JSON body, and ``call.app``, the shared state
(``app.registry``, ``app.tokens``, ``app.faults``, ``app.options``, ``app.ice_servers``). It
returns a ``web.StreamResponse`` or raises `EmulatorError`, which the core renders with the
version's `error_body`. Per request the core runs: CORS (preflight answered for every route)
-> authentication (`ApiVersion.authenticate`) -> injected delay and failure -> body -> handler.
Authentication comes first, so unauthenticated requests never consume an injected fault.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web

if TYPE_CHECKING:
    from .app import EmulatorApp

__all__ = ["ApiVersion", "Call", "EmulatorError", "Principal", "Route"]


class EmulatorError(Exception):
    """An error answer: HTTP ``status`` with wire ``code`` and ``message``.

    ``code`` is whatever the version's envelope carries (an int for v1); ``extra`` holds
    more body fields for versions that have them. Rendered by `ApiVersion.error_body`.
    """

    def __init__(
        self,
        status: int,
        code: int | str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}


@dataclass(frozen=True)
class Principal:
    """Who is calling: the owning account (its API key) and the bearer token, if any."""

    owner: str = field(repr=False)
    token: str | None = field(default=None, repr=False)


@dataclass
class Call:
    """One authenticated request, as handed to a route handler."""

    request: web.Request
    app: EmulatorApp
    principal: Principal
    body: dict[str, Any]

    @property
    def owner(self) -> str:
        """The calling account."""
        return self.principal.owner


Handler = Callable[[Call], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    """One endpoint: HTTP ``methods`` on ``path``, handled by ``handler``.

    ``endpoint`` is the name used by fault injection (``Faults.fail("new")``); ``body``
    says whether a JSON object body is required (``"required"``), optional (``"optional"``)
    or ignored (``"none"``).
    """

    methods: tuple[str, ...]
    path: str
    endpoint: str
    handler: Handler
    body: Literal["required", "optional", "none"] = "required"


class ApiVersion:
    """Base class of an API version: its routes and how its bodies look."""

    name = "base"
    cors_credentials = False
    """Answer cross-origin requests with the caller's origin and ``Allow-Credentials``
    (its official browser SDK fetches with ``credentials: "include"``)."""

    def __init__(self, app: EmulatorApp) -> None:
        self.app = app

    def routes(self) -> Sequence[Route]:
        """This version's route table."""
        raise NotImplementedError

    def authenticate(self, request: web.Request, endpoint: str) -> Principal:
        """The caller, or raise `EmulatorError` (401). Default: ``X-Api-Key`` or a bearer
        token minted by ``app.tokens``."""
        principal = self.app.principal_for(request, allow_token=True)
        if principal is None:
            raise self.unauthorized()
        return principal

    def unauthorized(self) -> EmulatorError:
        """The answer for a missing or wrong key/token."""
        return EmulatorError(401, "unauthorized", "Unauthorized")

    def invalid(self, detail: str) -> EmulatorError:
        """The answer for a malformed request (bad JSON, wrong field types)."""
        return EmulatorError(400, "invalid_parameter", detail)

    def error_body(self, err: EmulatorError) -> dict[str, Any]:
        """The JSON body of an error answer."""
        raise NotImplementedError

    def fault_body(self, kind: str, status: int) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) of an injected fault of ``kind`` (see `Faults`)."""
        return status, self.error_body(EmulatorError(status, status, f"Injected HTTP {status}"))

    async def reset(self) -> int:
        """End every session this version keeps itself (`Emulator.reset`: the pytest plugin
        calls it between tests sharing an emulator); return how many were live. Sessions in
        ``app.registry`` are ended by the core. Default: none of its own."""
        return 0

    def describe(self) -> dict[str, Any]:
        """This version's entry in ``GET /emulator`` (JSON-serialisable). Default: ``{}``."""
        return {}

    def freeze_media(self, session_id: str | None, frozen: bool) -> int:
        """Stop (or resume) the media of this version's own sessions (``Faults.freeze_media``);
        how many. Default: none (the core freezes the shared registry's sessions itself)."""
        return 0

    async def drop_all(self) -> int:
        """End this version's own sessions abruptly (``Faults.drop_all``); how many."""
        return 0
