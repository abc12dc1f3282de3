"""The HTTP core under every endpoint call: one request, retried, under one total deadline.

`HttpCore.send` knows nothing about HeyGen's envelopes: it returns the final
``httpx.Response`` of any status and leaves decoding to the caller (v1 ``{code, message,
data}``, v3 ``{data}`` / ``{error}``). What it owns:

- auth and identification headers (`HttpCore.headers`, also usable for a streaming request);
- one deadline for the whole call: attempts, body reads and backoff sleeps together; an
  idempotent attempt that hears nothing for its share of it is retried;
- retries with exponential backoff and jitter, honouring ``Retry-After`` up to a cap;
- redirects are never followed (``X-Api-Key`` must not travel to another host), even when
  the injected ``httpx.AsyncClient`` was built with ``follow_redirects=True``;
- the body is read up to `MAX_RESPONSE_BYTES`;
- one DEBUG line per attempt (method, endpoint, status, ms): never a header or body.
"""

from __future__ import annotations

# ruff: noqa: ASYNC109  (``timeout=`` is the per-call deadline of the public API)
import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from .._errors import (
    APIConnectionError,
    APITimeoutError,
    ConfigurationError,
    ResponseTooLargeError,
    ResponseValidationError,
    sanitize,
)
from . import retry as _retry

__all__ = ["MAX_RESPONSE_BYTES", "HttpCore", "Sent", "request_trace", "start_request"]

_T = TypeVar("_T")

MAX_RESPONSE_BYTES = 4 * 1024 * 1024
"""Largest response body read (decoded bytes); a real one is a few kB."""

MIN_ATTEMPT = 2.0
"""Shortest per-read timeout an idempotent attempt gets before it is retried (seconds)."""

logger = logging.getLogger("heygen_streaming")

Trace = Callable[[str, dict[str, Any]], Awaitable[None]]
request_trace: contextvars.ContextVar[Trace | None] = contextvars.ContextVar(
    "heygen_streaming_request_trace", default=None
)
"""An httpcore ``trace`` callback for the requests sent from the current context
(`start_request` sets it to learn when a request is on the wire)."""


def start_request(call: Coroutine[Any, Any, _T]) -> tuple[asyncio.Task[_T], Awaitable[None]]:
    """``call`` (an endpoint call) as a task, and an awaitable that ends once its request
    body is written or the task is done, whichever comes first.

    Work that would hold the loop (a heavy import) waits for the second, so it runs while
    the service works instead of delaying the request.
    """
    sent = asyncio.Event()

    async def trace(event: str, info: dict[str, Any]) -> None:
        if event.endswith("send_request_body.complete"):
            sent.set()

    token = request_trace.set(trace)
    try:
        task = asyncio.ensure_future(call)
    finally:
        request_trace.reset(token)

    async def written() -> None:
        waiter = asyncio.ensure_future(sent.wait())
        try:
            await asyncio.wait([waiter, task], return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()

    return task, written()


# Headers that describe the wire encoding of the body, not the decoded bytes we keep.
_WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


@dataclass(frozen=True, slots=True)
class Sent:
    """The outcome of `HttpCore.send`.

    Attributes:
        response: the final response (any status), its body already read.
        landed_before: an earlier attempt may have reached the server (it timed out after
            sending, lost the connection, or got 408/5xx), so a "wrong state" answer to
            this retry may be the earlier attempt's success.
    """

    response: httpx.Response
    landed_before: bool


class HttpCore:
    """Sends requests for one client: headers, deadline, retries, size cap, logging."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        headers: dict[str, str],
        *,
        timeout: float | None,
        max_retries: int,
        check_open: Callable[[], None],
    ) -> None:
        self.http = http
        self.base_url = base_url
        self.headers = headers
        self.timeout = timeout
        self.max_retries = max_retries
        self.check_open = check_open
        """Raises `ClientClosedError` once the owning client is closed."""

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` (``"/v1/streaming.new"``)."""
        return f"{self.base_url}{path}"

    async def send(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        json: Any = None,
        idempotent: bool,
        timeout: float | None,
    ) -> Sent:
        """Send one call, retried as allowed, within ``timeout`` seconds in total.

        ``timeout=None`` means the client's default (which may be ``None``: no deadline).
        Non-idempotent calls are retried only when the request provably never left.

        Raises:
            APITimeoutError: the deadline passed (or the last attempt timed out).
            APIConnectionError: the last attempt failed at the transport level.
            ResponseTooLargeError: the body exceeds `MAX_RESPONSE_BYTES`.
            ResponseValidationError: the body does not decode (bad ``gzip``...).
            ClientClosedError: the client was closed.
            ConfigurationError: ``timeout`` is not positive.
        """
        self.check_open()
        if timeout is not None and not timeout > 0:
            raise ConfigurationError(f"timeout must be positive seconds (or None), not {timeout!r}")
        limit = self.timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = None if limit is None else loop.time() + limit
        url = self.url(path)
        attempts = self.max_retries + 1
        retry = 0
        landed = False
        while True:
            self.check_open()
            started = time.monotonic()
            try:
                per_read = _attempt_limit(loop, deadline, idempotent, self.max_retries - retry)
                async with asyncio.timeout_at(deadline):
                    response = await self._attempt(method, url, json, per_read, endpoint)
            except TimeoutError:
                self._log(method, endpoint, "deadline", started, retry, attempts)
                raise APITimeoutError(_timed_out(endpoint, limit)) from None
            except httpx.TransportError as exc:
                self._log(method, endpoint, type(exc).__name__, started, retry, attempts)
                sent = not _retry.never_sent(exc)
                if (idempotent or not sent) and retry < self.max_retries:
                    delay = _retry.backoff_delay(retry)
                    if _fits(loop, deadline, delay):
                        landed = landed or sent
                        await self._backoff(endpoint, retry, delay)
                        retry += 1
                        continue
                raise _transport_error(exc, endpoint, url, limit) from exc

            status = response.status_code
            self._log(method, endpoint, status, started, retry, attempts)
            if idempotent and _retry.is_retryable_status(status) and retry < self.max_retries:
                retry_after = _retry.parse_retry_after(response.headers.get("retry-after"))
                if retry_after is None or retry_after <= _retry.MAX_DELAY:
                    delay = _retry.backoff_delay(retry, retry_after)
                    if _fits(loop, deadline, delay):
                        landed = landed or status != 429
                        await self._backoff(endpoint, retry, delay)
                        retry += 1
                        continue
            return Sent(response, landed)

    async def _attempt(
        self, method: str, url: str, json: Any, limit: float | None, endpoint: str
    ) -> httpx.Response:
        """One request; the body read up to the cap, the connection released."""
        try:
            return await self._exchange(method, url, json, limit, endpoint)
        except httpx.DecodingError:
            raise ResponseValidationError(
                "the body does not decode as its Content-Encoding says", endpoint=endpoint
            ) from None

    async def _exchange(
        self, method: str, url: str, json: Any, limit: float | None, endpoint: str
    ) -> httpx.Response:
        trace = request_trace.get()
        request = self.http.build_request(
            method,
            url,
            json=json,
            headers=self.headers,
            timeout=httpx.Timeout(limit),
            extensions=None if trace is None else {"trace": trace},
        )
        response = await self.http.send(request, stream=True, follow_redirects=False)
        try:
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > MAX_RESPONSE_BYTES:
                raise _too_large(endpoint)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise _too_large(endpoint)
                chunks.append(chunk)
        finally:
            await response.aclose()
        headers = [(k, v) for k, v in response.headers.multi_items() if k not in _WIRE_HEADERS]
        extensions = {k: v for k, v in response.extensions.items() if k == "reason_phrase"}
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=b"".join(chunks),
            request=request,
            extensions=extensions,
        )

    def _log(
        self,
        method: str,
        endpoint: str,
        outcome: int | str,
        started: float,
        retry: int,
        attempts: int,
    ) -> None:
        logger.debug(
            "%s %s -> %s in %.1f ms (attempt %d/%d)",
            method,
            endpoint,
            outcome,
            (time.monotonic() - started) * 1000,
            retry + 1,
            attempts,
        )

    async def _backoff(self, endpoint: str, retry: int, delay: float) -> None:
        logger.debug(
            "retrying %s in %.2f s (retry %d/%d)", endpoint, delay, retry + 1, self.max_retries
        )
        await _retry.sleep(delay)


def _attempt_limit(
    loop: asyncio.AbstractEventLoop, deadline: float | None, idempotent: bool, retries_left: int
) -> float | None:
    """httpx's connect/read/write timeout for one attempt (the deadline bounds the total).

    An idempotent call with retries left gives each attempt its share of the time remaining
    (at least `MIN_ATTEMPT` seconds), so a lost response is retried instead of waiting
    for the whole deadline; other calls may use all of it.
    """
    if deadline is None:
        return None
    remaining = max(deadline - loop.time(), 0.001)
    if not idempotent or retries_left <= 0:
        return remaining
    return max(remaining / (retries_left + 1), min(remaining, MIN_ATTEMPT))


def _fits(loop: asyncio.AbstractEventLoop, deadline: float | None, delay: float) -> bool:
    """True when sleeping ``delay`` still leaves time before ``deadline``."""
    return deadline is None or loop.time() + delay < deadline


def _timed_out(endpoint: str, limit: float | None) -> str:
    within = f" within {limit:g} s" if limit is not None else ""
    return f"{endpoint} did not complete{within} (total deadline, retries included)"


def _too_large(endpoint: str) -> ResponseTooLargeError:
    return ResponseTooLargeError(
        f"response body exceeds {MAX_RESPONSE_BYTES} bytes; not read", endpoint=endpoint
    )


def _transport_error(
    exc: httpx.TransportError, endpoint: str, url: str, limit: float | None
) -> APIConnectionError:
    if isinstance(exc, httpx.TimeoutException):
        after = f" after {limit:g} s" if limit is not None else ""
        return APITimeoutError(f"{endpoint} timed out{after} ({type(exc).__name__}) at {url}")
    hint = ""
    if isinstance(exc, httpx.ConnectError):
        hint = (
            "; is the server running? For an offline server start `heygen-streaming emulator`; "
            "the base URL comes from base_url= or $HEYGEN_BASE_URL"
        )
    detail = sanitize(str(exc), limit=200)
    detail = f": {detail}" if detail else ""
    return APIConnectionError(
        f"{endpoint}: cannot reach {url} ({type(exc).__name__}{detail}){hint}"
    )
