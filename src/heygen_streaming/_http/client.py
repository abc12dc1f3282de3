"""What every API client shares: its configuration, its `Transport`, its life.

`APIClient` is the thin base of `StreamingClient` and `LiveAvatarClient` (as
openai-python's clients share a base client): it owns the API's `Transport` (one
``httpx.AsyncClient`` with the verifying TLS context built on first use, the deadline, the
`RetryPolicy`; an injected client stays the caller's), the client's single use
(``async with`` once, calls refused with `ClientClosedError` once closed) and its close,
which first ends what the client owns (`APIClient._close_owned`: its sessions), then its
HTTP client, to the end whatever cancels the caller (`outlast`). The configuration checks
that read the environment (`credential_from`, `base_url_from`, `check_timeout`) are shared
too; each client keeps its own names, header spelling and wording. Each client forwards
the endpoints of the API objects it owns (`Forward`): composition, no mixins.

The clients' session registries live in ``_sessions`` (this layer knows no session); the
API packages pass the transport to their API objects.
"""

# ``timeout=`` below is httpx's per-request timeout (contract API), not an asyncio deadline.

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Concatenate,
    Generic,
    ParamSpec,
    TypeVar,
    overload,
)

import httpx

from .._errors import ClientClosedError, ConfigurationError
from .retry import RetryPolicy
from .tls import DeferredSSLContext
from .transport import Transport

if TYPE_CHECKING:
    from typing import Self

__all__ = [
    "APIClient",
    "Forward",
    "base_url_from",
    "check_timeout",
    "credential_from",
    "outlast",
]

logger = logging.getLogger("heygen_streaming")

_A = TypeVar("_A")
_P = ParamSpec("_P")
_R = TypeVar("_R")
_T = TypeVar("_T")


class Forward(Generic[_A, _P, _R]):
    """``client.name(...)`` is ``client.<api>.name(...)``: an endpoint of an owned API object.

    Type checkers see the method's own signature; at run time the bound method of the API
    object (the client's attribute ``api``) is returned, with its signature and docstring.
    """

    def __init__(self, method: Callable[Concatenate[_A, _P], _R], api: str = "_api") -> None:
        self._name = method.__name__
        self._api = api
        self.__doc__ = method.__doc__

    @overload
    def __get__(self, client: None, owner: type[Any]) -> Forward[_A, _P, _R]: ...
    @overload
    def __get__(self, client: object, owner: type[Any]) -> Callable[_P, _R]: ...
    def __get__(self, client: object | None, owner: type[Any]) -> Any:
        if client is None:
            return self
        method: Callable[_P, _R] = getattr(getattr(client, self._api), self._name)
        return method


# -- configuration -------------------------------------------------------------------------


def credential_from(
    api_key: str | None, token: str | None, env: str, missing: str
) -> tuple[str, bool]:
    """The credential to check and send, and whether it is the token: ``token``, else
    ``api_key``, else ``$env``. `ConfigurationError` for both, or neither (``missing``
    says what to do)."""
    if token is not None and api_key is not None:
        raise ConfigurationError("pass either api_key or token, not both")
    if token is not None:
        return token, True
    key = api_key if api_key is not None else os.environ.get(env)
    if not key or (isinstance(key, str) and not key.strip()):
        raise ConfigurationError(missing)
    return key, False


def base_url_from(base_url: str | None, env: str, default: str, invalid: str) -> str:
    """The service root without a trailing slash: ``base_url``, else ``$env``, else
    ``default``; `ConfigurationError` (``invalid``) unless it is an http(s) URL without
    control characters."""
    if base_url is None:
        base_url = os.environ.get(env) or default
    base_url = base_url.strip().rstrip("/")
    if not base_url.startswith(("http://", "https://")) or not base_url.isprintable():
        raise ConfigurationError(invalid)
    return base_url


def check_timeout(timeout: float | None) -> None:
    """`ConfigurationError` unless ``timeout`` is positive seconds or None (no deadline)."""
    if timeout is not None and not timeout > 0:
        raise ConfigurationError("timeout must be positive (or None for no timeout)")


# -- the client ------------------------------------------------------------------------------


class APIClient:
    """The base of an API client: its `Transport`, its single use and its close.

    Args:
        base_url: the checked service root (`base_url_from`).
        headers: sent with every request (the credential, ``Accept``, ``User-Agent``).
        timeout: default deadline of each call in seconds, retries included.
        max_retries: retries after the first attempt.
        http_client: an ``httpx.AsyncClient`` to use; not closed by this client.

    A subclass names itself (``_name``, for the repr) and words its refusals
    (``_closed_error``: a call once closed; ``_enter_errors``: ``async with`` once closed,
    and a second time).
    """

    _name: ClassVar[str]
    _closed_error: ClassVar[str]
    _enter_errors: ClassVar[tuple[str, str]]

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        *,
        timeout: float | None,
        max_retries: int,
        http_client: httpx.AsyncClient | None,
    ) -> None:
        self._transport = Transport(
            http_client or httpx.AsyncClient(verify=DeferredSSLContext(ssl.PROTOCOL_TLS_CLIENT)),
            base_url,
            headers,
            timeout=timeout,
            policy=RetryPolicy(max_retries=max_retries),
            owns_http=http_client is None,
            check_open=self._check_open,
        )
        self._entered = False
        self._closed = False

    @property
    def base_url(self) -> str:
        """The service root, without a trailing slash."""
        return self._transport.base_url

    @property
    def closed(self) -> bool:
        """True once `aclose` ran."""
        return self._closed

    def __repr__(self) -> str:
        return f"{self._name}(base_url={self._transport.base_url!r})"

    # -- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._closed:
            raise ClientClosedError(self._enter_errors[0])
        if self._entered:
            raise ClientClosedError(self._enter_errors[1])
        self._entered = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client (idempotent): first every session it made (each bounded by its
        own stop or cancel timeout), then its HTTP client; an injected ``http_client``
        stays open. Cancelling the caller does not cut the close short."""
        if self._closed:
            return
        try:
            await self._close_owned()  # waits for closes in flight, even if cancelled
        finally:
            self._closed = True
            await outlast(self._transport.aclose())

    async def _close_owned(self) -> None:
        """End what the client owns before its HTTP client closes (its sessions)."""

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosedError(self._closed_error)


async def outlast(awaitable: Awaitable[_T]) -> _T:
    """``await awaitable`` to its end even if the caller is cancelled meanwhile, any number
    of times (an ``anyio`` cancel scope cancels it again on every loop iteration); then
    re-raise the first cancellation, unchanged.

    For a caller whose cleanup must not be cut short (a client's close waits for its
    sessions' closes, then closes its HTTP client). The cancellation is not uncancelled:
    ``asyncio.timeout``, task groups and anyio scopes see it as theirs.
    """
    future = asyncio.ensure_future(awaitable)
    caught: asyncio.CancelledError | None = None
    while not future.done():
        try:
            await asyncio.wait((future,))  # cancelling the wait leaves the work running
        except asyncio.CancelledError as exc:
            caught = caught or exc
    if caught is not None:
        if not future.cancelled() and future.exception() is not None:
            logger.debug("failed while its caller was cancelled: %r", future.exception())
        raise caught
    return future.result()
