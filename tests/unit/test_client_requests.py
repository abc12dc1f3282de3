"""Each endpoint's request: method, path, JSON body, headers; and the typed result."""

from __future__ import annotations

import json
import platform
from typing import Any

import httpx
import pytest
import respx

import heygen_streaming
from heygen_streaming import (
    IceCandidate,
    NewSessionInfo,
    Quality,
    SessionDescription,
    StreamingClient,
    TaskInfo,
    VoiceSettings,
)

from .conftest import BASE, SECRET, ok

NEW_DATA = {
    "session_id": "sess-1",
    "sdp": {"type": "offer", "sdp": "v=0\r\n"},
    "access_token": "tok-abc",
    "url": None,
    "realtime_endpoint": None,
    "ice_servers": [{"urls": ["stun:stun.example:3478"]}],
    "ice_servers2": [{"urls": "turn:turn.example", "username": "u", "credential": "c"}],
    "is_paid": True,
    "session_duration_limit": 600,
    "brand_new_field": {"x": 1},
}


def body_of(route: respx.Route) -> Any:
    return json.loads(route.calls.last.request.content)


def assert_common_headers(request: httpx.Request) -> None:
    assert request.method == "POST"
    assert request.headers["x-api-key"] == SECRET
    assert "authorization" not in request.headers
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json"
    ua = request.headers["user-agent"]
    assert ua.startswith(f"heygen-streaming/{heygen_streaming.__version__} ")
    assert f"python/{platform.python_version()}" in ua
    assert f"httpx/{httpx.__version__}" in ua


async def test_new_session_body_and_result(client: StreamingClient, api: respx.MockRouter) -> None:
    route = api.post("/v1/streaming.new").respond(200, json=ok(NEW_DATA))
    info = await client.new_session(
        avatar="Anna_public",
        voice="voice-1",
        quality="low",
        video_encoding="VP8",
        knowledge_base="be nice",
        disable_idle_timeout=True,
        activity_idle_timeout=120,
        extra_body={"version": "v1", "custom_flag": "yes"},
    )
    assert route.call_count == 1
    assert str(route.calls.last.request.url) == f"{BASE}/v1/streaming.new"
    assert_common_headers(route.calls.last.request)
    assert body_of(route) == {
        "quality": "low",
        "avatar_name": "Anna_public",
        "voice": {"voice_id": "voice-1"},
        "video_encoding": "VP8",
        "knowledge_base": "be nice",
        "disable_idle_timeout": True,
        "activity_idle_timeout": 120,
        "version": "v1",
        "custom_flag": "yes",
    }
    assert isinstance(info, NewSessionInfo)
    assert info.session_id == "sess-1"
    assert info.sdp is not None and info.sdp.type == "offer"
    assert info.ice_servers2 is not None and info.ice_servers2[0].username == "u"
    assert info.session_duration_limit == 600
    assert info.brand_new_field == {"x": 1}  # type: ignore[attr-defined]


async def test_new_session_defaults_omit_none(
    client: StreamingClient, api: respx.MockRouter
) -> None:
    route = api.post("/v1/streaming.new").respond(200, json=ok({"session_id": "s"}))
    await client.new_session()
    assert body_of(route) == {"quality": "high"}


@pytest.mark.parametrize(
    ("voice", "expected"),
    [
        (
            VoiceSettings(voice_id="v", rate=1.2, emotion="Friendly"),
            {"voice_id": "v", "rate": 1.2, "emotion": "Friendly"},
        ),
        ({"voice_id": "v", "emotion": "Serious"}, {"voice_id": "v", "emotion": "Serious"}),
        ("", {"voice_id": ""}),
    ],
)
async def test_new_session_voice_forms(
    client: StreamingClient, api: respx.MockRouter, voice: Any, expected: dict[str, Any]
) -> None:
    route = api.post("/v1/streaming.new").respond(200, json=ok({"session_id": "s"}))
    await client.new_session(avatar="", voice=voice, quality=Quality.MEDIUM)
    assert body_of(route) == {"quality": "medium", "avatar_name": "", "voice": expected}


async def test_new_session_rejects_bad_voice_rate_before_sending(
    client: StreamingClient, api: respx.MockRouter
) -> None:
    route = api.post("/v1/streaming.new").respond(200, json=ok({"session_id": "s"}))
    with pytest.raises(ValueError, match="rate"):
        await client.new_session(voice={"voice_id": "v", "rate": 3.0})
    assert route.call_count == 0


@pytest.mark.parametrize(
    "answer",
    [
        "v=0\r\nanswer\r\n",
        SessionDescription(type="answer", sdp="v=0\r\nanswer\r\n"),
        {"type": "answer", "sdp": "v=0\r\nanswer\r\n"},
    ],
)
async def test_start_session(client: StreamingClient, api: respx.MockRouter, answer: Any) -> None:
    route = api.post("/v1/streaming.start").respond(200, json=ok(None))
    assert await client.start_session("sess-1", answer) is None
    assert_common_headers(route.calls.last.request)
    assert body_of(route) == {
        "session_id": "sess-1",
        "sdp": {"type": "answer", "sdp": "v=0\r\nanswer\r\n"},
    }


@pytest.mark.parametrize(
    "candidate",
    [
        {"candidate": "candidate:1 1 udp 1 10.0.0.1 5000 typ host", "sdpMid": "0",
         "sdpMLineIndex": 0, "usernameFragment": "uf"},
        IceCandidate(candidate="candidate:1 1 udp 1 10.0.0.1 5000 typ host", sdp_mid="0",
                     sdp_mline_index=0, username_fragment="uf"),
    ],
)  # fmt: skip
async def test_submit_ice(client: StreamingClient, api: respx.MockRouter, candidate: Any) -> None:
    route = api.post("/v1/streaming.ice").respond(200, json=ok(None))
    assert await client.submit_ice("sess-1", candidate) is None
    assert_common_headers(route.calls.last.request)
    assert body_of(route) == {
        "session_id": "sess-1",
        "candidate": {
            "candidate": "candidate:1 1 udp 1 10.0.0.1 5000 typ host",
            "sdpMid": "0",
            "sdpMLineIndex": 0,
            "usernameFragment": "uf",
        },
    }


async def test_send_task(client: StreamingClient, api: respx.MockRouter) -> None:
    route = api.post("/v1/streaming.task").respond(
        200, json=ok({"task_id": "t-1", "duration_ms": 1234.5})
    )
    task = await client.send_task("sess-1", "Hello there")
    assert_common_headers(route.calls.last.request)
    assert body_of(route) == {
        "session_id": "sess-1",
        "text": "Hello there",
        "task_type": "repeat",
        "task_mode": "sync",
    }
    assert isinstance(task, TaskInfo)
    assert task.task_id == "t-1"
    assert task.duration_ms == 1234.5

    await client.send_task("sess-1", "hi?", task_type="chat", task_mode="async")
    assert body_of(route)["task_type"] == "chat"
    assert body_of(route)["task_mode"] == "async"


@pytest.mark.parametrize(
    ("method", "endpoint"),
    [
        ("interrupt", "streaming.interrupt"),
        ("keep_alive", "streaming.keep_alive"),
        ("stop_session", "streaming.stop"),
    ],
)
async def test_session_id_endpoints(
    client: StreamingClient, api: respx.MockRouter, method: str, endpoint: str
) -> None:
    route = api.post(f"/v1/{endpoint}").respond(200, json=ok(None))
    assert await getattr(client, method)("sess-9") is None
    assert route.call_count == 1
    assert_common_headers(route.calls.last.request)
    assert body_of(route) == {"session_id": "sess-9"}


async def test_list_sessions_is_a_get_without_body(
    client: StreamingClient, api: respx.MockRouter
) -> None:
    route = api.get("/v1/streaming.list").respond(
        200,
        json=ok(
            {
                "sessions": [
                    {"session_id": "a", "status": "connected", "created_at": 1700000000},
                    {"session_id": "b", "status": "new", "created_at": 1700000001, "x": 1},
                ]
            }
        ),
    )
    sessions = await client.list_sessions()
    request = route.calls.last.request
    assert request.method == "GET"
    assert request.content == b""
    assert request.headers["x-api-key"] == SECRET
    assert [s.session_id for s in sessions] == ["a", "b"]
    assert sessions[0].status == "connected"


@pytest.mark.parametrize("data", [[{"session_id": "a"}], {"sessions": [{"session_id": "a"}]}])
async def test_list_sessions_accepts_bare_list(
    client: StreamingClient, api: respx.MockRouter, data: Any
) -> None:
    api.get("/v1/streaming.list").respond(200, json=ok(data))
    assert [s.session_id for s in await client.list_sessions()] == ["a"]


@pytest.mark.parametrize("data", [None, {"sessions": None}, {}, []])
async def test_list_sessions_empty_shapes(
    client: StreamingClient, api: respx.MockRouter, data: Any
) -> None:
    api.get("/v1/streaming.list").respond(200, json=ok(data))
    assert await client.list_sessions() == []


async def test_create_token(client: StreamingClient, api: respx.MockRouter) -> None:
    route = api.post("/v1/streaming.create_token").respond(200, json=ok({"token": "tok-xyz"}))
    assert await client.create_token() == "tok-xyz"
    assert_common_headers(route.calls.last.request)
    assert body_of(route) == {}


async def test_string_code_100_is_success(client: StreamingClient, api: respx.MockRouter) -> None:
    api.post("/v1/streaming.task").respond(
        200, json={"code": "100", "message": "success", "data": {"task_id": "t"}}
    )
    assert (await client.send_task("s", "x")).task_id == "t"


async def test_token_auth_uses_bearer(api: respx.MockRouter) -> None:
    route = api.post("/v1/streaming.keep_alive").respond(200, json=ok(None))
    async with StreamingClient(token="tok-SECRET-1", base_url=BASE) as c:
        await c.keep_alive("s")
    request = route.calls.last.request
    assert request.headers["authorization"] == "Bearer tok-SECRET-1"
    assert "x-api-key" not in request.headers


async def test_per_call_timeout_overrides_default(
    client: StreamingClient, api: respx.MockRouter
) -> None:
    """httpx's per-read timeout is the call's deadline; an attempt of a retried endpoint
    gets its share of it (at least 2 s), so that a lost answer leaves time to retry."""
    route = api.post("/v1/streaming.stop").respond(200, json=ok(None))
    await client.stop_session("s", timeout=2.5)
    assert route.calls.last.request.extensions["timeout"]["read"] == pytest.approx(2.0)
    await client.stop_session("s")  # the default 30 s, shared by 3 attempts
    assert route.calls.last.request.extensions["timeout"]["read"] == pytest.approx(10.0, abs=0.1)
    task = api.post("/v1/streaming.task").respond(200, json=ok({"task_id": "t"}))
    await client.send_task("s", "hi", timeout=2.5)  # never retried once sent: all of it
    assert task.calls.last.request.extensions["timeout"]["read"] == pytest.approx(2.5, abs=0.1)


async def test_injected_http_client_gets_base_url_and_headers(api: respx.MockRouter) -> None:
    route = api.post("/v1/streaming.keep_alive").respond(200, json=ok(None))
    async with httpx.AsyncClient(headers={"X-Extra": "1"}) as http:
        client = StreamingClient(api_key=SECRET, base_url=BASE + "/", http_client=http)
        assert client.base_url == BASE
        await client.keep_alive("s")
        await client.aclose()
        assert not http.is_closed  # not ours to close
    request = route.calls.last.request
    assert str(request.url) == f"{BASE}/v1/streaming.keep_alive"
    assert request.headers["x-api-key"] == SECRET
    assert request.headers["x-extra"] == "1"
