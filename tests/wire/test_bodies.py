"""Every captured v1 response body goes through the SDK's public client (respx).

Success bodies parse; error bodies raise the `APIError` subclass their code calls for, with
the captured code and message, whatever the HTTP status they came with.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import respx

import heygen_streaming
from heygen_streaming import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConcurrencyLimitError,
    PermissionDeniedError,
    StreamingClient,
)

from ._corpus import load

BASE = "https://api.wire.test"
SID = "52bf01ef-e38b-11ef-ab64-36bdd396d627"


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
async def client(api: respx.MockRouter) -> AsyncIterator[StreamingClient]:
    async with StreamingClient(api_key="wire-key", base_url=BASE, max_retries=0) as c:
        yield c


@pytest.mark.parametrize("name", ["new_response_2.json", "new_response_3.json"])
async def test_captured_new_responses_parse(
    api: respx.MockRouter, client: StreamingClient, name: str
) -> None:
    """2024-08 (``ice_servers`` as URL strings) and 2025-02 (``ice_servers: null`` and the
    late fields)."""
    body = load(name)
    api.post("/v1/streaming.new").respond(200, json=body)
    info = await client.new_session(avatar="", voice="", quality="low")
    assert info.session_id == body["data"]["session_id"]
    assert info.sdp is not None and info.sdp.type == "offer"
    assert info.sdp.sdp == body["data"]["sdp"]["sdp"]
    assert info.ice_servers2 is not None and len(info.ice_servers2) == 5


@pytest.mark.parametrize("name", ["streaming.start_success.json", "streaming.ice_success.json"])
async def test_captured_null_data_successes_parse(
    api: respx.MockRouter, client: StreamingClient, name: str
) -> None:
    body = load(name)
    assert body == {"code": 100, "data": None, "message": "success"}
    api.post("/v1/streaming.start").respond(200, json=body)
    api.post("/v1/streaming.ice").respond(200, json=body)
    api.post("/v1/streaming.interrupt").respond(200, json=body)
    assert await client.start_session(SID, {"type": "answer", "sdp": "v=0\r\n"}) is None
    candidate = {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0"}
    assert await client.submit_ice(SID, candidate) is None
    assert await client.interrupt(SID) is None


@pytest.mark.parametrize(
    "body",
    [
        load("streaming.task_success_reported.json"),  # {"code": 100, "message": "SUCCESS"}
        {"code": "SUCCESS", "message": "success"},  # reported: code as a string
        {"code": "100", "data": None, "message": "success"},  # HeyGen's own spec: string
    ],
    ids=["message-SUCCESS", "code-SUCCESS", "code-string-100"],
)
async def test_reported_success_shapes_are_success(
    api: respx.MockRouter, client: StreamingClient, body: dict[str, Any]
) -> None:
    for name in ("stop", "interrupt", "keep_alive"):
        api.post(f"/v1/streaming.{name}").respond(200, json=body)
    await client.interrupt(SID)
    await client.keep_alive(SID)
    await client.stop_session(SID)


async def test_captured_create_token_envelope(
    api: respx.MockRouter, client: StreamingClient
) -> None:
    """``{"error": null, "data": {"token": ...}}``: no ``code`` at all."""
    api.post("/v1/streaming.create_token").respond(
        200, json=load("streaming.create_token_success.json")
    )
    assert await client.create_token() == "<token>"


async def test_list_is_a_get(api: respx.MockRouter, client: StreamingClient) -> None:
    """HeyGen documents ``GET /v1/streaming.list``; a GET-only server must work."""
    body = {
        "code": 100,
        "data": {"sessions": [{"session_id": SID, "status": "connected", "created_at": 1}]},
        "message": "success",
    }
    api.get("/v1/streaming.list").respond(200, json=body)
    api.post("/v1/streaming.list").respond(405, json={"code": 405, "message": "Not Allowed"})
    [summary] = await client.list_sessions()
    assert summary.session_id == SID and summary.status == "connected"


ERRORS = [
    # (file, HTTP status it came with or the inferred one, expected class)
    ("streaming.task_error_400112_unauthorized.json", 401, AuthenticationError),
    ("streaming.start_error_10005_session_state_closed.json", 400, APIError),
    ("streaming.start_error_400006_invalid_params.json", 400, BadRequestError),
    ("streaming.start_error_400_peer_start_failed.json", 400, BadRequestError),
    ("streaming.new_error_10013_avatar_not_found.json", 400, BadRequestError),
    ("streaming.new_error_10013_avatar_not_allow.json", 400, BadRequestError),
    ("voice.list_error_400599_no_api_access.json", 400, PermissionDeniedError),
    ("realtime.new_error_400562_forbidden.json", 403, PermissionDeniedError),
    ("streaming_signaling_error_10003_avatar_version_deprecated.json", 400, BadRequestError),
    ("streaming_media_error_400014_avatar_version_deprecated.json", 400, BadRequestError),
]


@pytest.mark.parametrize(("name", "status", "cls"), ERRORS, ids=[e[0] for e in ERRORS])
@pytest.mark.parametrize("on_200", [False, True], ids=["http-error", "http-200"])
async def test_captured_errors_raise_typed_errors(
    api: respx.MockRouter,
    client: StreamingClient,
    name: str,
    status: int,
    cls: type[APIError],
    on_200: bool,
) -> None:
    """A non-success code is an error even on HTTP 200 (except the status-only classes)."""
    body = load(name)
    api.post("/v1/streaming.start").respond(200 if on_200 else status, json=body)
    with pytest.raises(APIError) as caught:
        await client.start_session(SID, {"type": "answer", "sdp": "v=0\r\n"})
    err = caught.value
    assert err.code == body["code"]
    assert body["message"] in str(err)
    if not on_200 or body["code"] in (400112, 400599):  # else the class comes from the status
        assert isinstance(err, cls), type(err)


async def test_unverified_concurrency_code_is_a_concurrency_error(
    api: respx.MockRouter, client: StreamingClient
) -> None:
    """10007 (third-party mapping; HTTP 400 reported for the concurrency limit)."""
    body = {"code": 10007, "message": "Concurrent limit reached"}
    api.post("/v1/streaming.new").respond(400, json=body)
    with pytest.raises(ConcurrencyLimitError):
        await client.new_session(quality="low")


async def test_retired_endpoint_raises_endpoint_retired_error(
    api: respx.MockRouter, client: StreamingClient
) -> None:
    """HeyGen answers HTTP 410 ``endpoint_sunset`` on /v1/streaming.* since 2026."""
    retired: Any = heygen_streaming.EndpointRetiredError
    api.post("/v1/streaming.new").respond(
        410, json={"error": {"code": "endpoint_sunset", "message": "gone"}}
    )
    with pytest.raises(retired) as caught:
        await client.new_session(quality="low")
    assert isinstance(caught.value, APIError)
    assert "emulator" in str(caught.value).lower()
    assert "wire-key" not in str(caught.value)


def test_fixtures_are_the_corpus() -> None:
    """The copied fixtures parse as JSON and are not empty."""
    for name in ("new_response_2.json", "new_response_3.json", *(e[0] for e in ERRORS)):
        assert load(name)
    assert httpx  # the respx transport patches httpx
