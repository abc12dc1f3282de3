"""Decoding of Avatar Realtime (v3) responses: the ``{data}`` / ``{error}`` envelopes.

An error is ``{"error": {"code", "message", "param", "doc_url"}}`` (other shapes are
tolerated) and becomes the package's exception for its HTTP status, with the string
``code``, ``param`` and ``doc_url`` kept; HTTP 410 on append is `RealtimeInputClosedError`.
Server text is sanitized before it reaches a message.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import httpx

from .._errors import (
    APIError,
    NotFoundError,
    RateLimitError,
    RealtimeInputClosedError,
    ResponseValidationError,
    error_for,
    sanitize,
)
from .._http.decode import NOT_JSON, load_json, parse, request_id, status_message
from .._http.retry import parse_retry_after
from .models import Word, WordBatch

__all__ = ["checked_times", "decode_v3", "v3_error", "word_batch"]

logger = logging.getLogger("heygen_streaming")


def _text(value: Any, limit: int = 500) -> str | None:
    """Server text made safe to print (no escapes or control characters), or None."""
    if not isinstance(value, str):
        return None
    return sanitize(value, limit=limit) or None


def v3_error(response: httpx.Response, endpoint: str, payload: Any = None) -> APIError:
    """The exception for a v3 error response (any status, any error body shape).

    ``payload`` is the body as `load_json` read it (read here when not given).
    """
    if payload is None:
        payload = load_json(response, endpoint)
    status = response.status_code
    body = None if payload is NOT_JSON else payload
    code: str | None = None
    message = param = doc_url = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            raw = error.get("code")
            if isinstance(raw, str | int) and not isinstance(raw, bool):
                code = _text(str(raw), 100)
            message = _text(error.get("message"))
            param = _text(error.get("param"))
            doc_url = _text(error.get("doc_url"))
        elif isinstance(error, str):
            message = _text(error)
        message = message or _text(body.get("message"))
    message = status_message(response, message or "", json_body=payload is not NOT_JSON)
    if code and code not in message:
        message = f"{code}: {message}"
    # By HTTP status family. v1's heuristics do not apply: a v3 429 (rate or concurrency
    # limit, both `rate_limit_exceeded`) is a RateLimitError with its Retry-After, and 410
    # means "input closed" on append and "gone" elsewhere, never a retired endpoint.
    error_cls: type[APIError] | None = None
    if status == 410 and endpoint == "avatar-realtime.text":
        error_cls = RealtimeInputClosedError
        message += " (input is closed: a final delta was sent or the stream ended)"
    elif status == 410:
        error_cls = NotFoundError
    elif status == 429:
        error_cls = RateLimitError
    if error_cls is not None:
        exc: APIError = error_cls(
            message, status=status, endpoint=endpoint, request_id=request_id(response), body=body
        )
    else:
        exc = error_for(
            status,
            code=None,
            message=message,
            endpoint=endpoint,
            request_id=request_id(response),
            body=body,
        )
    exc.code = code
    exc.param = param
    exc.doc_url = doc_url
    if isinstance(exc, RateLimitError):
        exc.retry_after = parse_retry_after(response.headers.get("retry-after"))
    return exc


def decode_v3(response: httpx.Response, endpoint: str) -> Any:
    """The ``data`` of a v3 success envelope, or the matching exception."""
    payload: Any = load_json(response, endpoint)
    if not 200 <= response.status_code < 300:
        raise v3_error(response, endpoint, payload)
    if isinstance(payload, dict):
        if payload.get("error"):
            raise v3_error(response, endpoint, payload)
        if "data" in payload:
            return payload["data"]
    kind = "a non-JSON body" if payload is NOT_JSON else "JSON without 'data'"
    raise ResponseValidationError(
        f"expected a {{'data': ...}} envelope, got {kind} with HTTP {response.status_code}",
        endpoint=endpoint,
        body=None if payload is NOT_JSON else payload,
    )


def word_batch(data: str, endpoint: str) -> WordBatch:
    """One SSE ``data:`` frame of the word stream (a bare batch or a ``{data}`` envelope)."""
    try:
        payload = json.loads(data)
    except RecursionError:
        raise ResponseValidationError(
            "a word batch is JSON nested too deeply to parse", endpoint=endpoint
        ) from None
    except ValueError:
        raise ResponseValidationError("a word batch is not JSON", endpoint=endpoint) from None
    if isinstance(payload, dict) and "data" in payload and "words" not in payload:
        payload = payload["data"]
    return checked_times(parse(WordBatch, payload, endpoint))


def checked_times(batch: WordBatch) -> WordBatch:
    """``batch`` with times a caller can use: a word without finite times is dropped, a
    negative time counts as 0, an end before its start as the start; each with a warning
    (the server's numbers are not trusted, as v1's ``duration_ms`` is not)."""
    words: list[Word] = []
    changed = False
    for word in batch.words:
        start, end = word.start, word.end
        if not (math.isfinite(start) and math.isfinite(end)):
            logger.warning("word stream: dropping %r: its times are not finite", word.word[:40])
            changed = True
            continue
        if start < 0 or end < start:
            logger.warning(
                "word stream: %r has start=%g, end=%g: clamped", word.word[:40], start, end
            )
            start = max(start, 0.0)
            end = max(end, start)
            word = word.model_copy(update={"start": start, "end": end})
            changed = True
        words.append(word)
    return batch.model_copy(update={"words": words}) if changed else batch
