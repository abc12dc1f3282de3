"""The captured HeyGen v1 bodies (tests/wire/fixtures/v1), served verbatim."""

from __future__ import annotations

import json
from pathlib import Path
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
    EndpointRetiredError,
    IceServer,
    NotFoundError,
    PermissionDeniedError,
    SessionStateError,
    StreamingClient,
)

WIRE = Path(__file__).parents[1] / "wire" / "fixtures" / "v1"


def raw(name: str) -> bytes:
    return (WIRE / name).read_bytes()


def respond(api: respx.MockRouter, method: str, endpoint: str, status: int, body: bytes) -> None:
    api.route(method=method, path=f"/v1/{endpoint}").respond(
        status, content=body, headers={"content-type": "application/json"}
    )


@pytest.mark.parametrize("name", ["new_response_2.json", "new_response_3.json"])
async def test_captured_new_responses_parse(
    client: StreamingClient, api: respx.MockRouter, name: str
) -> None:
    respond(api, "POST", "streaming.new", 200, raw(name))
    info = await client.new_session(avatar="", voice="", quality="low")
    captured = json.loads(raw(name))["data"]
    assert info.session_id == captured["session_id"]
    assert info.sdp is not None and info.sdp.type == "offer"
    assert info.sdp.sdp == captured["sdp"]["sdp"]
    assert info.ice_servers2 is not None and len(info.ice_servers2) == 5
    assert info.ice_servers2[2].username == captured["ice_servers2"][2]["username"]
    assert info.ice_servers2[0].credentialType == "password"  # type: ignore[attr-defined]


async def test_ice_servers_as_url_strings_2024(
    client: StreamingClient, api: respx.MockRouter
) -> None:
    respond(api, "POST", "streaming.new", 200, raw("new_response_2.json"))
    info = await client.new_session()
    assert info.ice_servers == [IceServer(urls="stun:stun.l.google.com:19302")]


async def test_late_v1_fields_and_null_ice_servers_2025(
    client: StreamingClient, api: respx.MockRouter
) -> None:
    respond(api, "POST", "streaming.new", 200, raw("new_response_3.json"))
    info = await client.new_session()
    assert info.ice_servers is None
    assert info.access_token is None and info.url is None
    assert info.is_paid is False and info.session_duration_limit == 600
    assert info.realtime_endpoint is not None and "access_token" not in repr(info)


async def test_postman_offer_wrapper_parses(client: StreamingClient, api: respx.MockRouter) -> None:
    """new_response_1.json is only ``session_id`` + ``sdp`` (see its ``_note``)."""
    data = json.loads(raw("new_response_1.json"))
    api.post("/v1/streaming.new").respond(
        200, json={"code": 100, "message": "success", "data": data}
    )
    info = await client.new_session()
    assert info.session_id == "f8c1f5bd-edbd-11ee-ac61-06daf6be75b4"
    assert info.ice_servers is None and info.ice_servers2 is None


@pytest.mark.parametrize(
    ("method", "endpoint", "name"),
    [
        ("start_session", "streaming.start", "streaming.start_success.json"),
        ("submit_ice", "streaming.ice", "streaming.ice_success.json"),
        ("stop_session", "streaming.stop", "streaming.start_success.json"),
        ("interrupt", "streaming.interrupt", "streaming.start_success.json"),
        ("keep_alive", "streaming.keep_alive", "streaming.start_success.json"),
    ],
)
async def test_captured_null_data_successes(
    client: StreamingClient, api: respx.MockRouter, method: str, endpoint: str, name: str
) -> None:
    respond(api, "POST", endpoint, 200, raw(name))
    args: dict[str, tuple[Any, ...]] = {
        "start_session": ("sid", "v=0\r\n"),
        "submit_ice": ("sid", {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host"}),
    }
    assert await getattr(client, method)(*args.get(method, ("sid",))) is None


async def test_reported_task_success_without_data(
    client: StreamingClient, api: respx.MockRouter
) -> None:
    respond(api, "POST", "streaming.task", 200, raw("streaming.task_success_reported.json"))
    task = await client.send_task("sid", "hello")
    assert task.task_id == "" and task.duration_ms is None


@pytest.mark.parametrize("code", ["SUCCESS", "success", "100", 100])
async def test_success_code_variants(
    client: StreamingClient, api: respx.MockRouter, code: Any
) -> None:
    api.post("/v1/streaming.task").respond(
        200, json={"code": code, "message": "success", "data": {"task_id": "t", "duration_ms": 5}}
    )
    assert (await client.send_task("sid", "hi")).task_id == "t"


async def test_create_token_error_data_envelope(
    client: StreamingClient, api: respx.MockRouter
) -> None:
    respond(api, "POST", "streaming.create_token", 200, raw("streaming.create_token_success.json"))
    assert await client.create_token() == "<token>"


@pytest.mark.parametrize(
    ("name", "status", "cls", "code"),
    [
        ("streaming.task_error_400112_unauthorized.json", 401, AuthenticationError, 400112),
        ("streaming.start_error_10005_session_state_closed.json", 400, NotFoundError, 10005),
        ("streaming.start_error_400006_invalid_params.json", 400, BadRequestError, 400006),
        ("streaming.start_error_400_peer_start_failed.json", 400, BadRequestError, 400),
        ("streaming.new_error_10013_avatar_not_found.json", 400, BadRequestError, 10013),
        ("streaming.new_error_10013_avatar_not_allow.json", 400, BadRequestError, 10013),
        ("voice.list_error_400599_no_api_access.json", 400, PermissionDeniedError, 400599),
        ("realtime.new_error_400562_forbidden.json", 403, PermissionDeniedError, 400562),
        ("streaming_media_error_400014_avatar_version_deprecated.json", 400, BadRequestError,
         400014),
        ("streaming_signaling_error_10003_avatar_version_deprecated.json", 400, BadRequestError,
         10003),
    ],
)  # fmt: skip
@pytest.mark.parametrize("on_200", [False, True])
async def test_captured_errors_map_to_types(
    client: StreamingClient,
    api: respx.MockRouter,
    name: str,
    status: int,
    cls: type[APIError],
    code: int,
    on_200: bool,
) -> None:
    """The type follows the code whether it came with an error status or with HTTP 200."""
    respond(api, "POST", "streaming.start", 200 if on_200 else status, raw(name))
    with pytest.raises(APIError) as info:
        await client.start_session("sid", "v=0\r\n")
    assert type(info.value) is cls
    assert info.value.code == code
    assert info.value.message.startswith(json.loads(raw(name))["message"])


@pytest.mark.parametrize(
    ("body", "cls"),
    [
        ({"code": 10006, "message": "Session not found"}, NotFoundError),
        ({"code": 10007, "message": "Concurrent limit reached"}, ConcurrencyLimitError),
        ({"code": 400, "message": "Concurrent limit reached, please make sure"},
         ConcurrencyLimitError),
        ({"code": 10001, "message": "Session state wrong: new"}, SessionStateError),
        ({"code": 10004, "message": "Session state wrong: closing"}, SessionStateError),
    ],
)  # fmt: skip
async def test_unofficial_codes(
    client: StreamingClient, api: respx.MockRouter, body: dict[str, Any], cls: type[APIError]
) -> None:
    api.post("/v1/streaming.keep_alive").respond(400, json=body)
    with pytest.raises(cls):
        await client.keep_alive("sid")


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(410, json={"error": "endpoint_sunset"}),
        httpx.Response(410, json={"code": 410, "message": "endpoint_sunset"}),
        httpx.Response(410, text="Gone"),
        httpx.Response(410, json={"code": 410, "message": "This endpoint was retired."}),
        httpx.Response(410),
    ],
)
async def test_http_410_is_endpoint_retired(
    client: StreamingClient, api: respx.MockRouter, sleeps: list[float], response: httpx.Response
) -> None:
    route = api.get("/v1/streaming.list").mock(return_value=response)
    with pytest.raises(EndpointRetiredError) as info:
        await client.list_sessions()
    err = info.value
    assert isinstance(err, APIError) and err.status == 410
    text = str(err)
    assert "retired" in text and "endpoint_sunset" in text
    assert "heygen-streaming emulator" in text and "heygen_streaming.emulator.Emulator" in text
    assert "client.realtime()" in text and ".." not in text
    assert "`heygen-streaming realtime`" in text  # the command too, for a CLI user
    assert route.call_count == 1 and sleeps == []


def test_endpoint_retired_is_exported() -> None:
    assert heygen_streaming.EndpointRetiredError is EndpointRetiredError
    assert issubclass(EndpointRetiredError, heygen_streaming.APIError)


async def test_bad_ice_server_entries_are_skipped_with_a_warning(
    client: StreamingClient, api: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    servers = [
        1,
        None,
        {"urls": None},
        {"urls": []},
        {"urls": ["stun:127.0.0.1:3478"], "credentialType": "password"},
        "stun:127.0.0.2:3478",
        {"urls": "turn:127.0.0.1", "username": 5},
        ["nested"],
    ]
    data = {"session_id": "s", "ice_servers2": servers, "ice_servers": "stun:127.0.0.3:3478"}
    api.post("/v1/streaming.new").respond(200, json={"code": 100, "data": data})
    info = await client.new_session()
    assert info.ice_servers2 == [
        IceServer(urls=["stun:127.0.0.1:3478"], credentialType="password"),  # type: ignore[call-arg]
        IceServer(urls="stun:127.0.0.2:3478"),
    ]
    assert info.ice_servers == [IceServer(urls="stun:127.0.0.3:3478")]
    skipped = [r.getMessage() for r in caplog.records if "not one" in r.getMessage()]
    assert len(skipped) == 5 and "'username': 5" in " ".join(skipped)
