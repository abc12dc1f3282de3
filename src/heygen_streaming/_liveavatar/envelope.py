"""Decoding LiveAvatar answers: the tolerant ``{code, data, message}`` envelope and errors.

Success is any 2xx whose ``code`` is 1000 (the official web SDK's and the live service's),
100 (the published examples) or absent; anything else is an error, mapped onto the
package's exceptions: 401 `AuthenticationError`, 403 `PermissionDeniedError` (or
`ConcurrencyLimitError` for "Session concurrency limit reached"), 404 `NotFoundError`,
422 `RequestValidationError` listing each field FastAPI named, 429 `RateLimitError` with
``retry_after``, 5xx `InternalServerError`. Server text reaches a message only sanitized
and bounded; response values (tokens) never do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from .._errors import (
    APIError,
    RateLimitError,
    RequestValidationError,
    ResponseValidationError,
    error_for,
    sanitize,
)
from .._http.decode import NOT_JSON, load_json, not_found_hint, request_id, status_message
from .._http.retry import parse_retry_after

__all__ = ["SUCCESS_CODES", "decode", "la_error"]

SUCCESS_CODES = frozenset({100, 1000})
"""Envelope codes that mean success (the docs show 100, the service sends 1000)."""

MAX_FIELDS = 20
"""Invalid fields named in a 422's message (all of them are in ``fields``, up to 100)."""


def _code(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _is_success(payload: dict[str, Any]) -> bool:
    raw = payload.get("code")
    if raw is None:
        return True
    if isinstance(raw, str) and raw.strip().lower() == "success":
        return True
    return _code(raw) in SUCCESS_CODES


def _message(payload: Any, secrets: Sequence[str] = ()) -> str:
    """The service's message of an error body (``message``, ``detail`` text, ``error``),
    with any credential it echoes blanked."""
    text = ""
    if isinstance(payload, dict):
        for key in ("message", "detail", "error", "msg"):
            value = payload.get(key)
            if isinstance(value, str) and value:
                text = value
                break
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                text = str(value["message"])
                break
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _fields(detail: Any) -> tuple[tuple[str, str], ...]:
    """``(field, message)`` pairs of a FastAPI ``detail`` list (or the web SDK's ``data``)."""
    if not isinstance(detail, list):
        return ()
    found: list[tuple[str, str]] = []
    for entry in detail[:100]:
        if not isinstance(entry, dict):
            continue
        loc = entry.get("loc")
        loc = loc if isinstance(loc, list) else []
        parts = [str(p) for p in loc[:10] if isinstance(p, str | int)]
        field = sanitize(".".join(parts), limit=120) or "(request)"
        text = entry.get("msg") or entry.get("message") or entry.get("type") or "invalid"
        found.append((field, sanitize(str(text), limit=200)))
    return tuple(found)


def la_error(
    response: httpx.Response, endpoint: str, payload: Any = None, secrets: Sequence[str] = ()
) -> APIError:
    """The exception for a failed LiveAvatar answer (any status, any body shape)."""
    if payload is None:
        payload = load_json(response, endpoint)
    status = response.status_code
    body = payload if isinstance(payload, dict) else None
    code = _code(body.get("code")) if body is not None else None
    if code is not None and code in SUCCESS_CODES:
        code = None
    message = status_message(response, _message(body, secrets), json_body=payload is not NOT_JSON)
    fields = _fields(body.get("detail") if body is not None else None)
    if not fields and body is not None and status == 422:
        fields = _fields(body.get("data"))
    if status == 404 and body is None:
        message += not_found_hint(response)
    if status == 422 or fields:
        shown = "; ".join(f"{f}: {m}" for f, m in fields[:MAX_FIELDS])
        more = f" (and {len(fields) - MAX_FIELDS} more)" if len(fields) > MAX_FIELDS else ""
        invalid = RequestValidationError(
            f"invalid request: {shown}{more}" if shown else message,
            status=status,
            code=code,
            endpoint=endpoint,
            request_id=request_id(response),
            body=body,
        )
        invalid.fields = fields
        return invalid
    error = error_for(
        status,
        code=code,
        message=message,
        endpoint=endpoint,
        request_id=request_id(response),
        body=body,
    )
    if isinstance(error, RateLimitError):
        error.retry_after = parse_retry_after(response.headers.get("retry-after"))
    return error


def decode(response: httpx.Response, endpoint: str, secrets: Sequence[str] = ()) -> Any:
    """Check status and envelope; return ``data`` (may be None) or raise. ``secrets``: the
    credentials of the call, blanked from any message the service sends back."""
    payload = load_json(response, endpoint)
    status = response.status_code
    if not 200 <= status < 300:
        raise la_error(response, endpoint, payload, secrets)
    if payload is NOT_JSON or not isinstance(payload, dict):
        ctype = response.headers.get("content-type", "").split(";")[0] or "no content type"
        kind = "a non-JSON body" if payload is NOT_JSON else f"JSON {type(payload).__name__}"
        raise ResponseValidationError(
            f"expected a JSON envelope, got {kind} ({ctype}) with HTTP {status}",
            endpoint=endpoint,
        )
    if not _is_success(payload):
        code = _code(payload.get("code"))
        # LiveAvatar's error codes are HTTP statuses: classify by the code it carries
        effective = code if code is not None and 400 <= code <= 599 else status
        raise error_for(
            effective,
            code=code,
            message=_message(payload, secrets) or "the service reported an error",
            endpoint=endpoint,
            request_id=request_id(response),
            body=payload,
        )
    return payload.get("data")
