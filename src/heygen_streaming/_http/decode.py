"""Reading answers of any API: JSON bodies, request ids, failure messages, data models.

Each API decodes its own envelope (``_v1.envelope``, ``_realtime.envelope``) with these.
Messages built here never echo response values other than the service's own text, and
that only sanitized (a response may carry an ``access_token``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from .._errors import ResponseValidationError, sanitize

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["NOT_JSON", "load_json", "not_found_hint", "parse", "request_id", "status_message"]

_REQUEST_ID_HEADERS = ("x-request-id", "x-heygen-request-id", "request-id")
_DOUBLE_VERSION = re.compile(r"/(v\d+)/v\d+/")

NOT_JSON: Any = object()
"""What `load_json` returns for a body that is not JSON."""

_M = TypeVar("_M", bound="BaseModel")


def request_id(response: httpx.Response) -> str | None:
    """The service's request id header, if any."""
    for name in _REQUEST_ID_HEADERS:
        value = response.headers.get(name)
        if value:
            return str(value)
    return None


def load_json(response: httpx.Response, endpoint: str) -> Any:
    """The JSON body, or `NOT_JSON`; nesting too deep for Python is a validation error."""
    try:
        return response.json()
    except RecursionError:
        raise ResponseValidationError(
            "JSON body nested too deeply to parse", endpoint=endpoint
        ) from None
    except ValueError:
        return NOT_JSON


def not_found_hint(response: httpx.Response) -> str:
    """For a 404 that is no API answer: the URL, and what is likely wrong with it."""
    request = response.request
    url = str(request.url)
    hint = "check the base URL (base_url= or $HEYGEN_BASE_URL)"
    doubled = _DOUBLE_VERSION.search(request.url.path)
    if doubled:
        hint = f"the base URL ends in /{doubled.group(1)}: drop it (the SDK adds the version)"
    return f" ({request.method} {url}; {hint})"


def status_message(response: httpx.Response, message: str, *, json_body: bool) -> str:
    """The message of a failed answer: a redirect explained, else ``message`` or the reason."""
    status = response.status_code
    if 300 <= status < 400:
        location = sanitize(response.headers.get("location", ""), limit=200) or "nowhere"
        return (
            f"redirect to {location} not followed (requests are never redirected: "
            "the credentials would travel with them); check the base URL"
        )
    if message:
        return message
    message = response.reason_phrase or f"HTTP {status}"
    if not json_body:
        ctype = response.headers.get("content-type", "").split(";")[0] or "empty"
        message += f" (non-JSON body: {ctype})"
    return message


def parse(model: type[_M], data: Any, endpoint: str) -> _M:
    """Validate ``data`` against ``model``; errors never echo the input values."""
    from pydantic import ValidationError

    if data is None:
        raise ResponseValidationError("response has no data", endpoint=endpoint)
    try:
        return model.model_validate(data)
    except RecursionError:
        raise ResponseValidationError(
            f"{model.__name__} data nested too deeply", endpoint=endpoint
        ) from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<data>'}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)[:5]
        )
        raise ResponseValidationError(
            f"unexpected {model.__name__} data: {sanitize(problems)}", endpoint=endpoint, body=data
        ) from None
