"""The one send path of the SDK: requests to one host, retried, under one deadline, capped.

A `Transport` sends to one host with that host's headers. A client has one for the API
(credentials, redirects never followed: the key must not travel to another host, even
when the injected ``httpx.AsyncClient`` was built with ``follow_redirects=True``); a
realtime stream's HLS reader has one without credentials (the playlist URL authorises
itself), whose redirects the reader follows hop by hop, checking each. Its retry loop,
`Transport.retrying`, is the only one in the package: JSON calls (`send`), streaming
bodies such as the SSE word stream (`open_stream`) and HLS playlists and segments (their
own attempts, in ``_realtime.hls``) all go through it, under the transport's
`RetryPolicy`. What it owns:

- one deadline for the whole call: attempts, body reads and backoff sleeps together; an
  idempotent attempt that hears nothing for its share of it is retried;
- retries with backoff, honouring ``Retry-After`` up to a cap; a non-idempotent request
  is retried only when it provably never left;
- body caps: a JSON body is read up to `MAX_RESPONSE_BYTES`, the error body of a stream up
  to `MAX_ERROR_BODY`;
- one DEBUG line per attempt (method, endpoint, status, ms): never a header, URL or body.

It knows nothing about HeyGen's envelopes: it returns the final ``httpx.Response`` of any
status and leaves decoding to the caller.
"""

from __future__ import annotations

# ruff: noqa: ASYNC109  (``timeout=`` is the per-call deadline of the public API)
import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

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
from .retry import RetryPolicy
from .trace import request_trace

__all__ = [
    "MAX_ERROR_BODY",
    "MAX_RESPONSE_BYTES",
    "Attempt",
    "Sent",
    "Transport",
]

MAX_RESPONSE_BYTES = 4 * 1024 * 1024
"""Largest response body read (decoded bytes); a real one is a few kB."""

MAX_ERROR_BODY = 64 * 1024
"""Largest error body read from a streaming request (the rest is dropped)."""

MIN_ATTEMPT = 2.0
"""Shortest per-read timeout an idempotent attempt gets before it is retried (seconds)."""

logger = logging.getLogger("heygen_streaming")

Attempt = Callable[[httpx.Timeout], Awaitable[httpx.Response]]
"""One attempt of a request, given httpx's timeouts for it: the response of any status
(its body read, or a stream handed over open)."""


# Headers that describe the wire encoding of the body, not the decoded bytes we keep.
_WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


@dataclass(frozen=True, slots=True)
class Sent:
    """The outcome of a request.

    Attributes:
        response: the final response (any status).
        landed_before: an earlier attempt may have reached the server (it timed out after
            sending, lost the connection, or got 408/5xx), so a "wrong state" answer to
            this retry may be the earlier attempt's success.
    """

    response: httpx.Response
    landed_before: bool


def _always_open() -> None:
    """`Transport.check_open` of a transport nobody closes."""


class Transport:
    """Sends requests to one host: its headers, deadline, retries, size caps, logging.

    Args:
        http: the ``httpx.AsyncClient`` to send with.
        base_url: prefix of the paths given to `send` and `open_stream` (``""``: absolute
            URLs).
        headers: sent with every request (credentials only on the API's transport).
        timeout: default deadline of a call in seconds, retries included (``None``: none).
        policy: the `RetryPolicy`.
        request_timeout: httpx's timeouts of an attempt when no deadline bounds it.
        follow_redirects: follow redirects (never for a transport with credentials).
        owns_http: `aclose` closes ``http``.
        check_open: raises (`ClientClosedError`) once the owner is closed.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str = "",
        headers: dict[str, str] | None = None,
        *,
        timeout: float | None,
        policy: RetryPolicy,
        request_timeout: float | None = None,
        follow_redirects: bool = False,
        owns_http: bool = False,
        check_open: Callable[[], None] = _always_open,
    ) -> None:
        self.http = http
        self.base_url = base_url
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.policy = policy
        self.request_timeout = request_timeout
        self.follow_redirects = follow_redirects
        self.owns_http = owns_http
        self.check_open = check_open

    @property
    def max_retries(self) -> int:
        """Retries after the first attempt."""
        return self.policy.max_retries

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` (``"/v1/streaming.new"``)."""
        return f"{self.base_url}{path}"

    async def aclose(self) -> None:
        """Close the HTTP client if this transport owns it."""
        if self.owns_http:
            await self.http.aclose()

    # -- the kinds of request ----------------------------------------------------------

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
        """Send one call, its body read, retried as allowed, within ``timeout`` seconds.

        ``timeout=None`` means the transport's default (which may be ``None``: no deadline).

        Raises:
            APITimeoutError: the deadline passed (or the last attempt timed out).
            APIConnectionError: the last attempt failed at the transport level.
            ResponseTooLargeError: the body exceeds `MAX_RESPONSE_BYTES`.
            ResponseValidationError: the body does not decode (bad ``gzip``...).
            ClientClosedError: the client was closed.
            ConfigurationError: ``timeout`` is not positive.
        """
        url = self.url(path)

        async def attempt(limit: httpx.Timeout) -> httpx.Response:
            response = await self.open(method, url, json=json, timeout=limit)
            return await _buffered(response, MAX_RESPONSE_BYTES, endpoint, truncate=False)

        return await self.retrying(
            method, endpoint, attempt, url=url, idempotent=idempotent, timeout=timeout
        )

    async def open_stream(
        self, path: str, *, endpoint: str, headers: dict[str, str], timeout: float | None
    ) -> httpx.Response:
        """``GET`` a streaming body (SSE), retried like any GET until it is answered.

        A 2xx response is handed over unread and open: the caller reads it, without a
        read timeout, and closes it. Any other final response comes back with its body
        read up to `MAX_ERROR_BODY`. ``timeout`` bounds getting the answer; errors as `send`.
        """
        url = self.url(path)

        async def attempt(limit: httpx.Timeout) -> httpx.Response:
            unbounded_reads = httpx.Timeout(
                connect=limit.connect, read=None, write=limit.write, pool=limit.pool
            )
            response = await self.open("GET", url, timeout=unbounded_reads, headers=headers)
            if 200 <= response.status_code < 300:
                return response
            return await _buffered(response, MAX_ERROR_BODY, endpoint, truncate=True)

        sent = await self.retrying(
            "GET", endpoint, attempt, url=url, idempotent=True, timeout=timeout
        )
        return sent.response

    async def open(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        timeout: httpx.Timeout,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One request on the wire, its body not read yet (the caller closes it)."""
        trace = request_trace.get()
        request = self.http.build_request(
            method,
            url,
            json=json,
            headers=self.headers if headers is None else {**self.headers, **headers},
            timeout=timeout,
            extensions=None if trace is None else {"trace": trace},
        )
        return await self.http.send(request, stream=True, follow_redirects=self.follow_redirects)

    # -- the retry loop ----------------------------------------------------------------

    async def retrying(
        self,
        method: str,
        endpoint: str,
        attempt: Attempt,
        *,
        url: str,
        idempotent: bool,
        timeout: float | None,
        retries: int | None = None,
    ) -> Sent:
        """Run ``attempt`` until its response is final, under the policy and the deadline.

        A transport error is retried if the request is idempotent or provably never left;
        a status the policy retries, if the request is idempotent and a ``Retry-After``
        is short enough. ``retries`` overrides the policy's number for this call. What is
        not retried is returned (any status) or raised as `send` says.
        """
        self.check_open()
        if timeout is not None and not timeout > 0:
            raise ConfigurationError(f"timeout must be positive seconds (or None), not {timeout!r}")
        limit = self.timeout if timeout is None else timeout
        allowed = self.policy.max_retries if retries is None else retries
        loop = asyncio.get_running_loop()
        deadline = None if limit is None else loop.time() + limit
        retry = 0
        landed = False
        while True:
            self.check_open()
            started = time.monotonic()
            timer = asyncio.timeout_at(deadline)
            try:
                per_read = _attempt_limit(loop, deadline, idempotent, allowed - retry)
                if per_read is None:
                    per_read = self.request_timeout
                async with timer:
                    response = await attempt(httpx.Timeout(per_read))
            except TimeoutError:
                if not timer.expired():
                    raise  # not the deadline's: the attempt's own bound
                self._log(method, endpoint, "deadline", started, retry, allowed)
                raise APITimeoutError(_timed_out(endpoint, limit)) from None
            except httpx.TransportError as exc:
                self._log(method, endpoint, type(exc).__name__, started, retry, allowed)
                sent = not _retry.never_sent(exc)
                if (idempotent or not sent) and retry < allowed:
                    delay = self.policy.delay(retry)
                    if _fits(loop, deadline, delay):
                        landed = landed or sent
                        await self._backoff(endpoint, retry, allowed, delay)
                        retry += 1
                        continue
                raise _transport_error(exc, endpoint, url, limit) from exc

            status = response.status_code
            self._log(method, endpoint, status, started, retry, allowed)
            if idempotent and self.policy.retry_status(status) and retry < allowed:
                retry_after = _retry.parse_retry_after(response.headers.get("retry-after"))
                if retry_after is None or retry_after <= _retry.MAX_DELAY:
                    delay = self.policy.delay(retry, retry_after)
                    if _fits(loop, deadline, delay):
                        landed = landed or status != 429
                        await response.aclose()
                        await self._backoff(endpoint, retry, allowed, delay)
                        retry += 1
                        continue
            return Sent(response, landed)

    def _log(
        self,
        method: str,
        endpoint: str,
        outcome: int | str,
        started: float,
        retry: int,
        allowed: int,
    ) -> None:
        logger.debug(
            "%s %s -> %s in %.1f ms (attempt %d/%d)",
            method,
            endpoint,
            outcome,
            (time.monotonic() - started) * 1000,
            retry + 1,
            allowed + 1,
        )

    async def _backoff(self, endpoint: str, retry: int, allowed: int, delay: float) -> None:
        logger.debug("retrying %s in %.2f s (retry %d/%d)", endpoint, delay, retry + 1, allowed)
        await _retry.sleep(delay)


async def _buffered(
    response: httpx.Response, cap: int, endpoint: str, *, truncate: bool
) -> httpx.Response:
    """``response`` with its body read (up to ``cap`` bytes) and its connection released.

    Past the cap the body is cut (``truncate``) or refused (`ResponseTooLargeError`); a
    body that does not decode is a `ResponseValidationError`.
    """
    try:
        length = response.headers.get("content-length", "")
        if not truncate and length.isdigit() and int(length) > cap:
            raise _too_large(endpoint, cap)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                if not truncate:
                    raise _too_large(endpoint, cap)
                chunks.append(chunk[: len(chunk) - (size - cap)])
                break
            chunks.append(chunk)
    except httpx.DecodingError:
        raise ResponseValidationError(
            "the body does not decode as its Content-Encoding says", endpoint=endpoint
        ) from None
    finally:
        await response.aclose()
    headers = [(k, v) for k, v in response.headers.multi_items() if k not in _WIRE_HEADERS]
    extensions = {k: v for k, v in response.extensions.items() if k == "reason_phrase"}
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=b"".join(chunks),
        request=response.request,
        extensions=extensions,
    )


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


def _too_large(endpoint: str, cap: int) -> ResponseTooLargeError:
    return ResponseTooLargeError(f"response body exceeds {cap} bytes; not read", endpoint=endpoint)


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
