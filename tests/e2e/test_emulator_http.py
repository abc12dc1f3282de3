"""Every emulator route over raw HTTP: happy paths, bad input, CORS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from heygen_streaming.emulator import Emulator
from heygen_streaming.emulator.v1.wire import Code

from ._rawclient import RawClient

BROWSER_CANDIDATE = {
    "candidate": "candidate:842163049 1 udp 1677729535 192.0.2.77 50000 typ srflx "
    "raddr 0.0.0.0 rport 0 generation 0 ufrag abcd network-cost 999",
    "sdpMid": "1",
    "sdpMLineIndex": 1,
    "usernameFragment": "abcd",
}


@pytest.fixture
async def http(emulator: Emulator, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"X-Api-Key": api_key}
    async with httpx.AsyncClient(base_url=emulator.base_url, headers=headers, timeout=10) as c:
        yield c


async def call(http: httpx.AsyncClient, name: str, body: Any = None, **kw: Any) -> httpx.Response:
    return await http.post(f"/v1/streaming.{name}", json=body, **kw)


def ok(response: httpx.Response) -> Any:
    payload = response.json()
    assert response.status_code == 200, payload
    assert payload["code"] == Code.SUCCESS and payload["message"] == "success"
    return payload["data"]


def failed(response: httpx.Response, status: int, code: int) -> str:
    payload = response.json()
    assert (response.status_code, payload["code"]) == (status, code), payload
    assert isinstance(payload["message"], str) and payload["message"]
    assert "Traceback" not in response.text
    message: str = payload["message"]
    return message


async def mint_token(http: httpx.AsyncClient) -> str:
    """``streaming.create_token`` answers its own captured envelope: ``{error, data}``."""
    response = await call(http, "create_token")
    payload = response.json()
    assert response.status_code == 200 and set(payload) == {"error", "data"}, payload
    assert payload["error"] is None
    token: str = payload["data"]["token"]
    return token


async def new_session(http: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    data: dict[str, Any] = ok(await call(http, "new", {"quality": "low", **body}))
    return data


async def test_new_returns_the_documented_fields(http: httpx.AsyncClient) -> None:
    data = await new_session(http, avatar_name="", voice={"voice_id": ""})
    assert set(data) >= {
        "session_id",
        "sdp",
        "access_token",
        "url",
        "realtime_endpoint",
        "ice_servers",
        "ice_servers2",
        "is_paid",
        "session_duration_limit",
    }
    assert data["sdp"]["type"] == "offer"
    sdp = data["sdp"]["sdp"]
    assert sdp.count("m=video") == 1 and sdp.count("m=audio") == 1
    # video, audio, then the server's data channel (talking events), all bundled
    kinds = [line[2:].split()[0] for line in sdp.splitlines() if line.startswith("m=")]
    assert kinds == ["video", "audio", "application"]
    assert "webrtc-datachannel" in sdp and "a=group:BUNDLE 0 1 2" in sdp
    assert "a=candidate:" in sdp
    msids = {line.split()[0] for line in sdp.splitlines() if line.startswith("a=msid:")}
    assert len(msids) == 1  # audio and video share one MediaStream
    # As captured in 2025: ice_servers null; ice_servers2 lists the emulator's loopback STUN.
    assert data["ice_servers"] is None
    [stun] = data["ice_servers2"]
    assert set(stun) == {"credentialType", "urls"} and stun["credentialType"] == "password"
    [url] = stun["urls"]
    assert url.startswith("stun:127.0.0.1:") and int(url.rsplit(":", 1)[1]) > 0
    assert data["session_duration_limit"] == 600 and data["is_paid"] is False


async def test_v2_sessions_carry_no_sdp(http: httpx.AsyncClient) -> None:
    data = await new_session(http, version="v2")
    assert data["sdp"] is None and data["url"] and data["access_token"]


async def test_h264_encoding_is_offered_alone(http: httpx.AsyncClient) -> None:
    sdp = (await new_session(http, video_encoding="H264"))["sdp"]["sdp"]
    assert "H264/90000" in sdp and "VP8/90000" not in sdp


async def test_full_flow_every_route(emulator: Emulator, http: httpx.AsyncClient) -> None:
    client = RawClient(http)
    try:
        info = await new_session(http)
        session_id = info["session_id"]
        # A browser-style candidate before start is buffered, and one after is applied.
        ok(await call(http, "ice", {"session_id": session_id, "candidate": BROWSER_CANDIDATE}))
        client.info = info
        from aiortc import RTCSessionDescription

        offer = info["sdp"]
        await client.pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        await client.pc.setLocalDescription(await client.pc.createAnswer())
        answer = {"type": "answer", "sdp": client.pc.localDescription.sdp}
        assert ok(await call(http, "start", {"session_id": session_id, "sdp": answer})) is None
        ok(await call(http, "ice", {"session_id": session_id, "candidate": BROWSER_CANDIDATE}))
        ok(await call(http, "ice", {"session_id": session_id, "candidate": {"candidate": ""}}))

        listed = ok(await call(http, "list"))["sessions"]
        assert [s["session_id"] for s in listed] == [session_id]
        assert listed[0]["status"] in ("connecting", "connected")
        assert ok(await http.get("/v1/streaming.list"))["sessions"] == listed

        repeat = ok(await call(http, "task", {"session_id": session_id, "text": "Hello there"}))
        assert repeat["task_id"] and 500 < repeat["duration_ms"] < 1500  # the rendered speech
        body = {"session_id": session_id, "text": "Hi", "task_mode": "async", "task_type": "chat"}
        chat = ok(await call(http, "task", body))
        assert chat["task_id"] != repeat["task_id"] and chat["duration_ms"] > 1000
        session = emulator.get_session(session_id)
        assert session is not None and session.state.speech.talking

        assert ok(await call(http, "interrupt", {"session_id": session_id})) is None
        assert not session.state.speech.talking
        assert ok(await call(http, "keep_alive", {"session_id": session_id})) is None

        assert ok(await call(http, "stop", {"session_id": session_id})) is None
        assert ok(await call(http, "list"))["sessions"] == []
        # A closed session answers as captured: 10005 "session state wrong: closed".
        message = failed(await call(http, "stop", {"session_id": session_id}), 404, 10005)
        assert message == "session state wrong: closed"
    finally:
        await client.close()


async def test_token_acts_for_its_key(emulator: Emulator, http: httpx.AsyncClient) -> None:
    token = await mint_token(http)
    async with httpx.AsyncClient(
        base_url=emulator.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as bearer:
        session_id = (await new_session(bearer))["session_id"]
        assert [s["session_id"] for s in ok(await call(http, "list"))["sessions"]] == [session_id]
        # Single use: the token opened its session and cannot open another, nor mint.
        failed(await call(bearer, "new", {"quality": "low"}), 401, 400112)
        failed(await call(bearer, "create_token"), 401, 400112)
        assert ok(await call(bearer, "keep_alive", {"session_id": session_id})) is None
        assert ok(await call(bearer, "stop", {"session_id": session_id})) is None


async def test_cors_preflight_and_headers(http: httpx.AsyncClient) -> None:
    for name in ("new", "task", "list"):
        pre = await http.options(
            f"/v1/streaming.{name}",
            headers={
                "Origin": "http://example.test",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "x-api-key,content-type",
            },
        )
        assert pre.status_code == 204
        assert pre.headers["Access-Control-Allow-Origin"] == "*"
        allowed = pre.headers["Access-Control-Allow-Headers"].lower()
        assert {"x-api-key", "authorization", "content-type"} <= {
            h.strip() for h in allowed.split(",")
        }
    response = await call(http, "list")
    assert response.headers["Access-Control-Allow-Origin"] == "*"


async def test_demo_page_is_served(http: httpx.AsyncClient) -> None:
    page = await http.get("/")
    assert page.status_code == 200 and "<video" in page.text
    script = await http.get("/static/demo.js")
    assert script.status_code == 200 and "/v1/streaming." in script.text
    failed(await http.get("/static/../app.py"), 404, 404)


# -- bad input ------------------------------------------------------------------------

BAD_AUTH: list[dict[str, str]] = [
    {},
    {"X-Api-Key": "wrong"},
    {"Authorization": "Bearer not-a-token"},
    {"Authorization": "Basic abc"},
]


@pytest.mark.parametrize("headers", BAD_AUTH)
async def test_auth_failures_are_401(emulator: Emulator, headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=emulator.base_url, headers=headers) as anon:
        for name in ("new", "list", "create_token", "task"):
            failed(await call(anon, name, {"quality": "low"}), 401, Code.UNAUTHORIZED)


INVALID = Code.INVALID_PARAMS
PEER_FAILED = Code.PEER_START_FAILED
GARBAGE_SDP = {"type": "answer", "sdp": "v=0\r\nthis is not sdp"}


@pytest.mark.parametrize(
    ("name", "body", "status", "code"),
    [
        ("new", b"{not json", 400, INVALID),
        ("new", b"[1, 2]", 400, INVALID),
        ("new", b"", 400, INVALID),
        ("new", {"quality": "ultra"}, 400, INVALID),
        ("new", {"quality": 7}, 400, INVALID),
        ("new", {"voice": "x"}, 400, INVALID),
        ("new", {"voice": {"rate": 9}}, 400, INVALID),
        ("new", {"activity_idle_timeout": 5}, 400, INVALID),
        ("new", {"video_encoding": "AV1"}, 400, INVALID),
        ("task", {"text": "hi"}, 400, INVALID),
        ("task", {"session_id": "$sid"}, 400, INVALID),
        ("task", {"session_id": "$sid", "text": ""}, 400, INVALID),
        ("task", {"session_id": "$sid", "text": 5}, 400, INVALID),
        ("task", {"session_id": "$sid", "text": "x" * 10_001}, 400, INVALID),
        ("task", {"session_id": "$sid", "text": "hi", "task_type": "sing"}, 400, INVALID),
        ("task", {"session_id": "$sid", "text": "hi", "task_mode": "now"}, 400, INVALID),
        ("task", {"session_id": "$sid", "text": "hi"}, 400, Code.STATE_NEW),
        ("task", {"session_id": "nope", "text": "hi"}, 404, Code.SESSION_NOT_FOUND),
        ("start", {"session_id": "$sid", "sdp": GARBAGE_SDP}, 400, PEER_FAILED),
        (
            "start",
            {"session_id": "$sid", "sdp": {"type": "answer", "sdp": "garbage"}},
            400,
            PEER_FAILED,
        ),
        ("start", {"session_id": "$sid", "sdp": {"type": "offer", "sdp": "v=0"}}, 400, INVALID),
        ("start", {"session_id": "$sid", "sdp": "v=0"}, 400, INVALID),
        ("start", {"session_id": "$sid"}, 400, INVALID),
        (
            "ice",
            {"session_id": "$sid", "candidate": {"candidate": "candidate:garbage"}},
            400,
            INVALID,
        ),
        (
            "ice",
            {"session_id": "$sid", "candidate": {"candidate": "a b c d e f g h"}},
            400,
            INVALID,
        ),
        ("ice", {"session_id": "$sid", "candidate": "nope"}, 400, INVALID),
        ("ice", {"session_id": "$sid"}, 400, INVALID),
        (
            "ice",
            {"session_id": "nope", "candidate": BROWSER_CANDIDATE},
            404,
            Code.SESSION_NOT_FOUND,
        ),
        ("stop", {}, 400, INVALID),
        ("stop", {"session_id": 12}, 400, INVALID),
        ("stop", {"session_id": "nope"}, 404, Code.SESSION_NOT_FOUND),
        ("interrupt", {"session_id": "nope"}, 404, Code.SESSION_NOT_FOUND),
        ("keep_alive", {"session_id": "nope"}, 404, Code.SESSION_NOT_FOUND),
        ("unknown", {}, 404, 404),
    ],
)
async def test_bad_input_is_a_4xx_envelope(
    http: httpx.AsyncClient, name: str, body: Any, status: int, code: int
) -> None:
    bystander = await new_session(http)
    target = (await new_session(http))["session_id"]
    if isinstance(body, bytes):
        response = await http.post(
            f"/v1/streaming.{name}", content=body, headers={"Content-Type": "application/json"}
        )
    else:
        if isinstance(body, dict) and body.get("session_id") == "$sid":
            body = {**body, "session_id": target}
        response = await call(http, name, body)
    failed(response, status, code)
    # The server is still up and the other session is untouched.
    listed = {s["session_id"] for s in ok(await call(http, "list"))["sessions"]}
    assert bystander["session_id"] in listed


async def test_oversized_body_and_wrong_method(http: httpx.AsyncClient) -> None:
    big = b'{"text": "' + b"x" * (2 << 20) + b'"}'
    response = await http.post(
        "/v1/streaming.task", content=big, headers={"Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500
    assert response.json()["code"] != Code.SUCCESS
    failed(await http.get("/v1/streaming.new"), 405, 405)


async def test_start_twice_is_a_state_error(http: httpx.AsyncClient) -> None:
    client = RawClient(http)
    try:
        await client.connect()
        sdp = {"type": "answer", "sdp": client.pc.localDescription.sdp}
        response = await call(http, "start", {"session_id": client.session_id, "sdp": sdp})
        code = response.json()["code"]
        failed(response, 400, code)
        assert code in (Code.STATE_CONNECTING, Code.STATE_CONNECTED)
    finally:
        await client.close()


async def test_retired_mode_answers_410_endpoint_sunset() -> None:
    """As HeyGen's servers do since 2026 (the body's shape was not captured)."""
    async with (
        Emulator(api_key="k", retired=True) as emu,
        httpx.AsyncClient(base_url=emu.base_url, headers={"X-Api-Key": "k"}) as http,
    ):
        for name in ("new", "start", "task", "stop", "create_token"):
            response = await call(http, name, {"session_id": "x"})
            assert response.status_code == 410
            assert response.json()["error"]["code"] == "endpoint_sunset"
        assert (await http.get("/v1/streaming.list")).status_code == 410
        assert emu.sessions == []


async def test_unknown_avatar_is_10013_when_avatars_are_configured() -> None:
    async with (
        Emulator(api_key="k", avatars=["Anna_public"]) as emu,
        httpx.AsyncClient(base_url=emu.base_url, headers={"X-Api-Key": "k"}) as http,
    ):
        message = failed(await call(http, "new", {"avatar_name": "Nobody"}), 400, 10013)
        assert message == "avatar not found"
        await new_session(http, avatar_id="Anna_public")


async def test_list_is_served_on_get_and_post(http: httpx.AsyncClient) -> None:
    sid = (await new_session(http))["session_id"]
    by_get = ok(await http.get("/v1/streaming.list"))
    assert by_get == ok(await call(http, "list"))
    assert [s["session_id"] for s in by_get["sessions"]] == [sid]
    assert isinstance(by_get["sessions"][0]["created_at"], int)


async def test_success_bodies_have_the_captured_shape(http: httpx.AsyncClient) -> None:
    """``{"code": 100, "data": null, "message": "success"}``, keys in the captured order."""
    sid = (await new_session(http))["session_id"]
    for name in ("keep_alive", "interrupt", "stop"):
        response = await call(http, name, {"session_id": sid})
        assert response.text == '{"code": 100, "data": null, "message": "success"}'


async def test_sdk_reports_the_retired_emulator_as_retired() -> None:
    from heygen_streaming import EndpointRetiredError, StreamingClient

    async with (
        Emulator(api_key="k", retired=True) as emu,
        StreamingClient(api_key="k", base_url=emu.base_url, max_retries=0) as client,
    ):
        with pytest.raises(EndpointRetiredError):
            await client.new_session(quality="low")
        with pytest.raises(EndpointRetiredError):
            await client.list_sessions()


async def test_requests_real_clients_sent_are_accepted(http: httpx.AsyncClient) -> None:
    """Bodies from REQUESTS.md: empty strings, ``avatar_id``, a flat ``voice_id`` and a
    ``token`` field (ignored), capitalised or lowercase emotions, ``task_type: "talk"``,
    unknown extras (``"interrupt": true``), a Postman-style string ``sdpMLineIndex``."""
    bodies: list[dict[str, Any]] = [
        {"avatar_name": "", "quality": "", "voice": {"voice_id": ""}},
        {"avatar_name": "Anna", "token": "x", "voice_id": "e3f0"},
        {"quality": "medium", "voice": {"rate": 1}, "video_encoding": "VP8",
         "disable_idle_timeout": False, "avatar_id": "Abigail_standing_office_front"},
        {"quality": "low", "voice": {"emotion": "Friendly"}},
        {"quality": "low", "voice": {"emotion": "soothing"}},
    ]  # fmt: skip
    for body in bodies:
        data = ok(await call(http, "new", body))
        ok(await call(http, "stop", {"session_id": data["session_id"]}))
    client = RawClient(http)
    try:
        await client.connect()
        sid = client.session_id
        candidate = {**BROWSER_CANDIDATE, "sdpMLineIndex": "0"}
        ok(await call(http, "ice", {"session_id": sid, "candidate": candidate}))
        body = {"session_id": sid, "text": "Hey, there!", "task_type": "talk", "interrupt": True}
        assert ok(await call(http, "task", body))["task_id"]
    finally:
        await client.close()
