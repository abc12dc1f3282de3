"""Decoding v1 answers: status, the ``{code, message, data}`` envelope, error details.

Error messages built here never echo response values other than the service's own message
(a response may carry an ``access_token``), and that only sanitized. Accepted success shapes
(all captured or reported, ``tests/wire/fixtures/v1``): ``{"code": 100, "message": "success",
"data": ...}`` with ``data`` possibly null, ``code`` as ``"100"`` or ``"SUCCESS"``, and
``create_token``'s ``{"error": null, "data": {...}}`` without a code.
"""

from __future__ import annotations

from typing import Any

import httpx

from .._errors import ErrorCode, RateLimitError, ResponseValidationError, error_for
from .._http.decode import NOT_JSON, load_json, not_found_hint, request_id, status_message
from .._http.retry import parse_retry_after

__all__ = ["decode"]


def _as_code(value: Any) -> tuple[int | None, str | None]:
    """An envelope code as ``(int, None)``, or ``(None, text)`` when not numeric."""
    if value is None or isinstance(value, bool):
        return None, None
    if isinstance(value, int):
        return value, None
    text = str(value).strip()
    try:
        return int(text), None
    except ValueError:
        return None, text or None


def _error_details(payload: Any) -> tuple[int | None, str]:
    """``(code, message)`` of an error body: ``message``/``error`` as text or an object."""
    if not isinstance(payload, dict):
        return None, ""
    code, code_text = _as_code(payload.get("code"))
    messages: list[str] = []
    error = payload.get("error")
    if isinstance(error, dict):
        inner_code, inner_text = _as_code(error.get("code"))
        if code is None or code == ErrorCode.SUCCESS:
            code = inner_code
        code_text = code_text or inner_text
        for key in ("message", "msg", "detail"):
            if isinstance(error.get(key), str) and error[key]:
                messages.append(error[key])
                break
    elif isinstance(error, str) and error:
        messages.append(error)
    message = payload.get("message") or payload.get("msg")
    if isinstance(message, str) and message and message not in messages:
        messages.insert(0, message)
    details = payload.get("details")
    if isinstance(details, str) and details and details not in messages:
        messages.append(details)
    text = "; ".join(messages)
    if code_text:
        text = f"{code_text}: {text}" if text else code_text
    return code, text


def _is_success(code: int | None, code_text: str | None) -> bool:
    return code == ErrorCode.SUCCESS or (code_text or "").lower() == "success"


def decode(response: httpx.Response, endpoint: str) -> Any:
    """Check status and envelope; return ``data`` or raise the matching error."""
    status = response.status_code
    rid = request_id(response)
    payload: Any = load_json(response, endpoint)

    if not 200 <= status < 300:
        body = None if payload is NOT_JSON else payload
        code, message = _error_details(body)
        message = status_message(response, message, json_body=payload is not NOT_JSON)
        if status == 404 and code is None:
            message += not_found_hint(response)
        error = error_for(
            status,
            code=code,
            message=message,
            endpoint=endpoint,
            request_id=rid,
            body=body,
        )
        if isinstance(error, RateLimitError):
            error.retry_after = parse_retry_after(response.headers.get("retry-after"))
        raise error

    if payload is NOT_JSON or not isinstance(payload, dict):
        ctype = response.headers.get("content-type", "").split(";")[0] or "no content type"
        kind = "a non-JSON body" if payload is NOT_JSON else f"JSON {type(payload).__name__}"
        raise ResponseValidationError(
            f"expected a JSON envelope, got {kind} ({ctype}) with HTTP {status}",
            endpoint=endpoint,
            body=None if payload is NOT_JSON else payload,
        )

    code, error = _envelope(payload, endpoint)
    failed = not _is_success(*_as_code(code)) if code is not None else error not in (None, "", {})
    if failed:
        err_code, message = _error_details(payload)
        raise error_for(
            status,
            code=err_code,
            message=message or "service reported an error",
            endpoint=endpoint,
            request_id=rid,
            body=payload,
        )
    return payload.get("data")


def _envelope(payload: dict[str, Any], endpoint: str) -> tuple[Any, Any]:
    """``(code, error)`` of a JSON object, as `Envelope` reads them.

    Plain JSON types (``code`` an int, a string or null; ``message`` a string or null) are
    read by hand; anything else goes through the model, which may refuse it.
    """
    code, message = payload.get("code"), payload.get("message")
    if type(code) not in _PLAIN_CODE or (message is not None and type(message) is not str):
        from pydantic import ValidationError

        from .models import Envelope

        try:
            code = Envelope.model_validate(payload).code
        except ValidationError:
            raise ResponseValidationError(
                "malformed response envelope", endpoint=endpoint, body=payload
            ) from None
    return code, payload.get("error")


_PLAIN_CODE = (int, str, type(None))
