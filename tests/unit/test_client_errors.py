"""Error mapping: HTTP status, envelope code, ``error`` variants, bad bodies, bad data."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from heygen_streaming import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConcurrencyLimitError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseValidationError,
    StreamingClient,
)

from .conftest import ok

STOP = "/v1/streaming.stop"


@pytest.mark.parametrize(
    ("status", "body", "cls", "code"),
    [
        (400, {"code": 400006, "message": "invalid parameter"}, BadRequestError, 400006),
        (422, {"code": 400006, "message": "bad"}, BadRequestError, 400006),
        (401, {"code": 400112, "message": "Unauthorized"}, AuthenticationError, 400112),
        (403, {"code": 400599, "message": "no api access"}, PermissionDeniedError, 400599),
        (404, {"code": 10006, "message": "session not found"}, NotFoundError, 10006),
        (429, {"code": 400123, "message": "slow down"}, RateLimitError, 400123),
        (400, {"code": 10007, "message": "too many sessions"}, ConcurrencyLimitError, 10007),
        (500, {"code": 500, "message": "boom"}, InternalServerError, 500),
        (503, {"message": "maintenance"}, InternalServerError, None),
        (401, {"code": "400112", "message": "Unauthorized"}, AuthenticationError, 400112),
    ],
)
async def test_status_maps_to_error_class(
    api: respx.MockRouter, status: int, body: dict[str, Any], cls: type[APIError], code: int | None
) -> None:
    route = api.post(STOP).respond(status, json=body, headers={"x-request-id": "req-42"})
    async with StreamingClient(api_key="k", base_url="https://api.test", max_retries=0) as c:
        with pytest.raises(cls) as info:
            await c.stop_session("s")
    err = info.value
    assert type(err) is cls
    assert err.status == status
    assert err.code == code
    assert err.message == body["message"]
    assert err.endpoint == "streaming.stop"
    assert err.request_id == "req-42"
    assert err.body == body
    assert "streaming.stop" in str(err) and body["message"] in str(err)
    assert "req-42" in str(err)
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("body", "cls", "code", "message"),
    [
        ({"code": 400112, "message": "Unauthorized", "data": None}, AuthenticationError,
         400112, "Unauthorized"),
        ({"code": 400599, "message": "no access"}, PermissionDeniedError, 400599, "no access"),
        ({"code": 10006, "message": "gone"}, NotFoundError, 10006, "gone"),
        ({"code": 10007, "message": "limit"}, ConcurrencyLimitError, 10007, "limit"),
        ({"code": 400006, "message": "bad avatar"}, BadRequestError, 400006, "bad avatar"),
        ({"code": "400112", "error": "invalid token"}, AuthenticationError, 400112,
         "invalid token"),
        ({"error": "something broke"}, APIError, None, "something broke"),
        ({"code": 400112, "error": {"code": 400112, "message": "bad key"}},
         AuthenticationError, 400112, "bad key"),
        ({"error": {"code": 400599, "message": "no api"}}, PermissionDeniedError, 400599,
         "no api"),
        ({"code": 400006, "message": None, "data": None}, BadRequestError, 400006,
         "service reported an error"),
    ],
)  # fmt: skip
async def test_envelope_error_on_http_200(
    client: StreamingClient,
    api: respx.MockRouter,
    body: dict[str, Any],
    cls: type[APIError],
    code: int | None,
    message: str,
) -> None:
    api.post(STOP).respond(200, json=body, headers={"x-heygen-request-id": "hg-1"})
    with pytest.raises(cls) as info:
        await client.stop_session("s")
    assert type(info.value) is cls
    assert info.value.status == 200
    assert info.value.code == code
    assert info.value.message == message
    assert info.value.request_id == "hg-1"


@pytest.mark.parametrize(
    ("status", "body", "cls", "code", "message"),
    [
        (401, {"error": "Unauthorized"}, AuthenticationError, None, "Unauthorized"),
        (401, {"error": {"code": 400112, "message": "bad token"}}, AuthenticationError, 400112,
         "bad token"),
        (400, {"code": 400006, "message": "x", "error": "detail"}, BadRequestError, 400006,
         "x; detail"),
        (403, {"code": "forbidden_code", "message": "nope"}, PermissionDeniedError, None,
         "forbidden_code: nope"),
    ],
)  # fmt: skip
async def test_error_field_variants_on_error_status(
    client: StreamingClient,
    api: respx.MockRouter,
    status: int,
    body: dict[str, Any],
    cls: type[APIError],
    code: int | None,
    message: str,
) -> None:
    api.post(STOP).respond(status, json=body)
    with pytest.raises(cls) as info:
        await client.stop_session("s")
    assert info.value.code == code
    assert info.value.message == message
    assert info.value.request_id is None


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (502, InternalServerError),
        (500, InternalServerError),
        (404, NotFoundError),
        (401, AuthenticationError),
        (418, BadRequestError),
    ],
)
async def test_html_error_body(api: respx.MockRouter, status: int, cls: type[APIError]) -> None:
    api.post(STOP).respond(
        status,
        content=b"<html><body><h1>Bad Gateway</h1></body></html>",
        headers={"content-type": "text/html; charset=utf-8", "request-id": "r-9"},
    )
    async with StreamingClient(api_key="k", base_url="https://api.test", max_retries=0) as c:
        with pytest.raises(cls) as info:
            await c.stop_session("s")
    err = info.value
    assert err.status == status
    assert err.code is None
    assert err.body is None
    assert "text/html" in err.message
    assert "<html>" not in str(err)
    assert err.request_id == "r-9"


async def test_empty_error_body(client: StreamingClient, api: respx.MockRouter) -> None:
    api.post(STOP).respond(404)
    with pytest.raises(NotFoundError, match="Not Found"):
        await client.stop_session("s")


@pytest.mark.parametrize(
    ("content", "ctype", "needle"),
    [
        (b"<html>ok</html>", "text/html", "non-JSON"),
        (b"plain text", "text/plain", "non-JSON"),
        (b"", "application/json", "non-JSON"),
        (b"[1, 2]", "application/json", "JSON list"),
        (b'"success"', "application/json", "JSON str"),
    ],
)
async def test_unparsable_success_body(
    client: StreamingClient, api: respx.MockRouter, content: bytes, ctype: str, needle: str
) -> None:
    api.post(STOP).respond(200, content=content, headers={"content-type": ctype})
    with pytest.raises(ResponseValidationError, match=needle) as info:
        await client.stop_session("s")
    assert info.value.endpoint == "streaming.stop"


async def test_missing_required_field(client: StreamingClient, api: respx.MockRouter) -> None:
    api.post("/v1/streaming.new").respond(
        200, json=ok({"sdp": {"type": "offer", "sdp": "v=0"}, "access_token": "LEAKY-TOKEN"})
    )
    with pytest.raises(ResponseValidationError) as info:
        await client.new_session()
    text = str(info.value)
    assert "session_id" in text and "Field required" in text
    assert "LEAKY-TOKEN" not in text and "LEAKY-TOKEN" not in repr(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


async def test_wrong_field_type(client: StreamingClient, api: respx.MockRouter) -> None:
    api.post("/v1/streaming.task").respond(200, json=ok({"task_id": "t", "duration_ms": "long"}))
    with pytest.raises(ResponseValidationError, match="duration_ms"):
        await client.send_task("s", "hi")


@pytest.mark.parametrize("method", ["new_session", "create_token"])
async def test_missing_data(client: StreamingClient, api: respx.MockRouter, method: str) -> None:
    api.post("/v1/streaming.new").respond(200, json=ok(None))
    api.post("/v1/streaming.create_token").respond(200, json={"code": 100, "message": "ok"})
    with pytest.raises(ResponseValidationError, match="no data"):
        await getattr(client, method)()


async def test_read_timeout_is_api_timeout_error(
    client: StreamingClient, api: respx.MockRouter
) -> None:
    api.post(STOP).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(APITimeoutError, match=r"streaming\.stop timed out") as info:
        await client.stop_session("s", timeout=1.5)
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)
    assert "1.5 s" in str(info.value)


async def test_other_transport_error_is_connection_error(
    client: StreamingClient, api: respx.MockRouter
) -> None:
    api.post(STOP).mock(side_effect=httpx.RemoteProtocolError("server hung up"))
    with pytest.raises(APIConnectionError) as info:
        await client.stop_session("s")
    assert not isinstance(info.value, APITimeoutError)
    assert isinstance(info.value.__cause__, httpx.RemoteProtocolError)


# -- hostile or surprising bodies -----------------------------------------------------------

DEEP = b"[" * 200_000 + b"]" * 200_000


@pytest.mark.parametrize("status", [200, 400, 500])
@pytest.mark.parametrize(
    "body",
    [DEEP, b'{"code": 100, "data": {"session_id": "s", "x": ' + DEEP + b"}}"],
)
async def test_deeply_nested_json_is_a_validation_error(
    client: StreamingClient, api: respx.MockRouter, status: int, body: bytes
) -> None:
    api.post("/v1/streaming.new").respond(status, content=body)
    with pytest.raises(ResponseValidationError, match="nested too deeply") as info:
        await client.new_session()
    assert len(str(info.value)) < 300


async def test_deep_but_parsable_extra_field_is_kept(
    client: StreamingClient, api: respx.MockRouter
) -> None:
    nested = "[" * 500 + "]" * 500
    api.post("/v1/streaming.task").respond(
        200, content=f'{{"code": 100, "data": {{"task_id": "t", "x": {nested}}}}}'.encode()
    )
    assert (await client.send_task("s", "hi")).task_id == "t"


HOSTILE = "bad\x1b[2J\x1b]0;owned\x07 thing\r\nFAKE PROMPT $ \u202eevil\x9b31m " + "A" * 5000


async def test_server_text_is_sanitized_in_messages(
    client: StreamingClient, api: respx.MockRouter
) -> None:
    api.post(STOP).respond(
        400, json={"code": 400006, "message": HOSTILE}, headers={"x-request-id": "r\x1b[1mid"}
    )
    with pytest.raises(BadRequestError) as info:
        await client.stop_session("s")
    err = info.value
    for text in (str(err), repr(err), err.message, err.request_id or ""):
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text), text
        assert "\u202e" not in text
    assert err.message.startswith("bad thing FAKE PROMPT $ evil31m A")
    assert len(str(err)) < 1200
    assert err.body["message"] == HOSTILE  # the raw body stays available


def test_sanitize_helper() -> None:
    from heygen_streaming._errors import sanitize

    assert sanitize("a\x1b[31mred\x1b[0m\tb\nc") == "ared b c"
    assert sanitize("x\x1b]8;;http://e\x1b\\link\x1b]8;;\x1b\\") == "xlink"
    assert sanitize("z" * 50, limit=10) == "zzzzzzz..."


async def test_wrong_base_url_404_names_url_and_hints(api: respx.MockRouter) -> None:
    api.post("/v1/v1/streaming.stop").respond(404, text="404 page not found")
    async with StreamingClient(api_key="k", base_url="https://api.test/v1") as c:
        with pytest.raises(NotFoundError) as info:
            await c.stop_session("s")
    text = str(info.value)
    assert "POST https://api.test/v1/v1/streaming.stop" in text
    assert "base URL ends in /v1: drop it" in text


async def test_plain_404_names_url(client: StreamingClient, api: respx.MockRouter) -> None:
    api.post(STOP).respond(404)
    with pytest.raises(NotFoundError) as info:
        await client.stop_session("s")
    assert "https://api.test/v1/streaming.stop" in str(info.value)
    assert "HEYGEN_BASE_URL" in str(info.value)


# -- the drawn tree is the real one ------------------------------------------------------------


def _drawn_tree(text: str) -> dict[str, str | None]:
    """``{class: parent}`` from a box-drawing tree (``HeyGenError`` at the root)."""
    import re

    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in text.splitlines():
        match = re.match(r"^(\s*(?:[│ ]\s*)*)(?:[├└]─ )?([A-Z]\w+)(?:\s|$)", line)
        if not match or ("─" not in line and match.group(2) != "HeyGenError"):
            continue
        depth = len(match.group(1))
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[match.group(2)] = stack[-1][1] if stack else None
        stack.append((depth, match.group(2)))
    return parents


def _tree_block(text: str) -> str:
    start = text.index("HeyGenError\n")
    return text[start : text.index("\n\n", start)]


def test_error_tree_in_docstring_and_docs_is_true() -> None:
    from pathlib import Path

    import heygen_streaming
    from heygen_streaming import _errors

    doc_tree = _tree_block(_errors.__doc__ or "")
    drawn = _drawn_tree(doc_tree)
    assert len(drawn) >= 20
    for name, parent in drawn.items():
        cls = getattr(heygen_streaming, name)
        if parent is not None:
            assert cls.__bases__[0] is getattr(heygen_streaming, parent), name
    defined = {
        name
        for name, value in vars(_errors).items()
        if isinstance(value, type)
        and issubclass(value, _errors.HeyGenError)
        and value.__module__ == _errors.__name__
    }
    assert defined == set(drawn)  # every class of the module is drawn, and only those
    assert defined <= set(heygen_streaming.__all__)
    page = (Path(__file__).parents[2] / "docs" / "errors.md").read_text()
    assert _drawn_tree(_tree_block(page)) == drawn
