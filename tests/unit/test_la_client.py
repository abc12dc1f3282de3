"""LiveAvatarClient's REST layer (respx): credentials, the tolerant envelope, typed errors,
what is retried, options checked before any request, hostile bodies, the missing extra."""

from __future__ import annotations

import base64
import json
import logging
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from heygen_streaming import (
    AuthenticationError,
    ConcurrencyLimitError,
    ConfigurationError,
    InternalServerError,
    LiveAvatarClient,
    LiveAvatarMode,
    MissingDependencyError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestValidationError,
    ResponseTooLargeError,
    ResponseValidationError,
)

BASE = "https://la.test"
KEY = "la-UNIT-SECRET-5d1e-never-logged"
AVATAR = "0b5e1a3c-9d2f-4c7e-8a61-2f4b3c5d6e7f"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzIjoxfQ.SESSION-TOKEN-SECRET"


def ok(data: Any = None, code: Any = 1000) -> dict[str, Any]:
    body: dict[str, Any] = {"data": data, "message": "success"}
    if code is not None:
        body["code"] = code
    return body


def jwt(claims: dict[str, Any]) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJIUzI1NiJ9.{payload}.sig"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIVEAVATAR_API_KEY", raising=False)
    monkeypatch.delenv("LIVEAVATAR_BASE_URL", raising=False)


@pytest.fixture
def api() -> Any:
    with respx.mock(base_url=BASE, assert_all_called=False, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
async def client(api: respx.MockRouter) -> AsyncIterator[LiveAvatarClient]:
    async with LiveAvatarClient(api_key=KEY, base_url=BASE) as c:
        yield c


# -- credentials and the envelope ----------------------------------------------------------


async def test_key_and_token_go_where_each_belongs(
    client: LiveAvatarClient, api: respx.MockRouter
) -> None:
    token = api.post("/v1/sessions/token").respond(
        200, json=ok({"session_id": "s1", "session_token": TOKEN})
    )
    start = api.post("/v1/sessions/start").respond(
        201, json=ok({"session_id": "s1", "livekit_url": "wss://x", "livekit_client_token": "c"})
    )
    stop = api.post("/v1/sessions/stop").respond(200, json=ok({"session_id": "s1"}))
    made = await client.create_session_token(AVATAR, "lite", quality="medium")
    started = await client.start_session(made.session_token)
    await client.stop_session(token=made.session_token)
    await client.stop_session("s1")
    sent = json.loads(token.calls[0].request.content)
    assert sent == {
        "avatar_id": AVATAR,
        "mode": "LITE",
        "is_sandbox": False,
        "video_settings": {"quality": "medium", "encoding": "H264"},
    }
    assert token.calls[0].request.headers["x-api-key"] == KEY
    assert start.calls[0].request.headers["authorization"] == f"Bearer {TOKEN}"
    assert "x-api-key" not in start.calls[0].request.headers  # /start refuses a key
    assert "x-api-key" not in stop.calls[0].request.headers
    assert json.loads(stop.calls[1].request.content) == {"session_id": "s1"}
    assert stop.calls[1].request.headers["x-api-key"] == KEY
    assert started.session_id == "s1"
    assert TOKEN not in repr(made) and "livekit_client_token" not in repr(started)


@pytest.mark.parametrize("code", [1000, 100, "1000", "success", None])
async def test_success_envelopes(
    client: LiveAvatarClient, api: respx.MockRouter, code: Any
) -> None:
    api.get("/v1/users/credits").respond(200, json=ok({"credits_left": 5}, code=code))
    assert (await client.credits()).credits_left == 5


async def test_an_error_code_on_http_200_is_an_error(
    client: LiveAvatarClient, api: respx.MockRouter
) -> None:
    api.get("/v1/users/credits").respond(200, json={"code": 500, "message": "boom", "data": None})
    with pytest.raises(InternalServerError, match="boom"):
        await client.credits()


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (401, {"code": 401, "message": "Invalid or missing API key"}, AuthenticationError),
        (403, {"code": 403, "message": "Insufficient credits"}, PermissionDeniedError),
        (403, {"code": 403, "message": "Session concurrency limit reached"}, ConcurrencyLimitError),
        (404, {"code": 404, "message": "Avatar not found"}, NotFoundError),
        (500, {"code": 500, "message": "oops"}, InternalServerError),
    ],
)
async def test_typed_errors(
    client: LiveAvatarClient, api: respx.MockRouter, status: int, body: Any, cls: type
) -> None:
    api.post("/v1/sessions/token").respond(status, json=body)
    with pytest.raises(cls) as caught:
        await client.create_session_token(AVATAR)
    assert caught.value.status == status
    assert body["message"] in str(caught.value)


async def test_422_lists_each_field(client: LiveAvatarClient, api: respx.MockRouter) -> None:
    detail = [
        {"type": "uuid_parsing", "loc": ["body", "avatar_id"], "msg": "Input should be a UUID"},
        {"type": "value_error", "loc": ["body"], "msg": "FULL mode needs exactly one of ..."},
        {"type": "missing", "loc": ["query", "type"], "msg": "Field required"},
    ]
    api.post("/v1/sessions/token").respond(422, json={"detail": detail})
    with pytest.raises(RequestValidationError) as caught:
        await client.create_session_token(AVATAR)
    error = caught.value
    assert isinstance(error, ConfigurationError)  # the ConfigurationError family
    assert error.fields == (
        ("body.avatar_id", "Input should be a UUID"),
        ("body", "FULL mode needs exactly one of ..."),
        ("query.type", "Field required"),
    )
    assert "body.avatar_id: Input should be a UUID" in str(error)


async def test_429_carries_retry_after_and_token_is_not_retried(
    client: LiveAvatarClient, api: respx.MockRouter, backoff_delays: list[float]
) -> None:
    route = api.post("/v1/sessions/token").respond(
        429, headers={"Retry-After": "3"}, json={"code": 429, "message": "Rate limit exceeded"}
    )
    with pytest.raises(RateLimitError) as caught:
        await client.create_session_token(AVATAR)
    assert caught.value.retry_after == 3.0 and route.call_count == 1


@pytest.mark.parametrize("call", ["token", "start"])
async def test_token_and_start_are_never_retried_once_sent(
    client: LiveAvatarClient, api: respx.MockRouter, call: str
) -> None:
    route = api.post(f"/v1/sessions/{call}").mock(
        side_effect=[httpx.Response(503), httpx.ReadTimeout("late")]
    )
    method = client.create_session_token if call == "token" else client.start_session
    arg = AVATAR if call == "token" else TOKEN
    with pytest.raises(InternalServerError):
        await method(arg)
    assert route.call_count == 1
    with pytest.raises(Exception, match="timed out"):
        await method(arg)
    assert route.call_count == 2


async def test_idempotent_calls_are_retried(
    client: LiveAvatarClient, api: respx.MockRouter, backoff_delays: list[float]
) -> None:
    stop = api.post("/v1/sessions/stop").mock(
        side_effect=[httpx.Response(502), httpx.ConnectError("x"), httpx.Response(200, json=ok())]
    )
    alive = api.post("/v1/sessions/keep-alive").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "1"}),
            httpx.Response(200, json=ok()),
        ]
    )
    await client.stop_session("s1")
    await client.keep_alive(TOKEN)
    assert stop.call_count == 3 and alive.call_count == 2
    assert 1.0 in backoff_delays


async def test_list_sessions_follows_pages(client: LiveAvatarClient, api: respx.MockRouter) -> None:
    def page(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        assert request.url.params["type"] == "historic"
        items = [{"id": f"s{number}-{i}", "status": "CLOSED"} for i in range(2)]
        return httpx.Response(
            200, json=ok({"count": 6, "results": items, "next": "n" if number < 3 else None})
        )

    api.get("/v1/sessions").mock(side_effect=page)
    found = await client.list_sessions(active=False, limit=5)
    assert [s.id for s in found] == ["s1-0", "s1-1", "s2-0", "s2-1", "s3-0"]


# -- before any request ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"avatar_id": None}, "avatar_id"),
        ({"avatar_id": "Anna_public"}, "UUID"),
        ({"mode": "both"}, "mode"),
        ({"quality": "4k"}, "quality"),
        ({"max_session_duration": 0}, "max_session_duration"),
        ({"is_sandbox": "yes"}, "is_sandbox"),
        ({"language": ""}, "language"),
        ({"connect_timeout": 0}, "connect_timeout"),
        ({"video_capacity": 0}, "video_capacity"),
    ],
)
async def test_options_are_checked_before_any_request(
    client: LiveAvatarClient, api: respx.MockRouter, options: dict[str, Any], match: str
) -> None:
    kwargs: dict[str, Any] = {"avatar_id": AVATAR, **options}
    with pytest.raises(ConfigurationError, match=match):
        client.session(**kwargs)
    assert not api.calls


def test_construction_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="LIVEAVATAR_API_KEY"):
        LiveAvatarClient()
    with pytest.raises(ConfigurationError, match="either"):
        LiveAvatarClient(api_key=KEY, token=TOKEN)
    with pytest.raises(ConfigurationError, match="base_url"):
        LiveAvatarClient(api_key=KEY, base_url="ftp://x")
    monkeypatch.setenv("LIVEAVATAR_API_KEY", KEY)
    monkeypatch.setenv("LIVEAVATAR_BASE_URL", "http://emulator.test:8000/")
    client = LiveAvatarClient()
    assert client.base_url == "http://emulator.test:8000"
    assert KEY not in repr(client)


async def test_a_token_client_reads_the_mode_and_refuses_key_calls(api: respx.MockRouter) -> None:
    lite = jwt({"start_session_data": {"mode": "LITE"}})
    async with LiveAvatarClient(token=lite, base_url=BASE) as client:
        assert client.session().mode is LiveAvatarMode.LITE
        assert client.session(mode="full").mode is LiveAvatarMode.FULL
        with pytest.raises(ConfigurationError, match="token"):
            client.session(avatar_id=AVATAR)
        with pytest.raises(ConfigurationError, match="API key"):
            await client.list_sessions()
    async with LiveAvatarClient(token="opaque-token", base_url=BASE) as client:
        assert client.session().mode is LiveAvatarMode.FULL  # the token does not say


async def test_without_the_extra_session_names_it(
    client: LiveAvatarClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "livekit", None)
    monkeypatch.setitem(sys.modules, "livekit.rtc", None)
    with pytest.raises(MissingDependencyError, match=r"heygen-streaming\[liveavatar\]"):
        client.session(avatar_id=AVATAR)
    assert isinstance(MissingDependencyError("x"), ImportError)


def test_without_the_extra_the_package_and_rest_still_work() -> None:
    import subprocess

    code = (
        "import sys\n"
        "sys.modules['livekit'] = None; sys.modules['livekit.rtc'] = None\n"
        "sys.modules['websockets'] = None\n"
        "import heygen_streaming as h\n"
        "from heygen_streaming import StreamingClient, LiveAvatarClient, MissingDependencyError\n"
        "c = LiveAvatarClient(api_key='k', base_url='http://127.0.0.1:9')\n"
        "StreamingClient(api_key='k')\n"
        "try:\n"
        "    c.session(avatar_id='" + AVATAR + "')\n"
        "except MissingDependencyError as e:\n"
        "    print('missing:', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "pip install 'heygen-streaming[liveavatar]'" in out.stdout


# -- hostile answers --------------------------------------------------------------------------


async def test_hostile_bodies(client: LiveAvatarClient, api: respx.MockRouter) -> None:
    nested = "[" * 100_000 + "]" * 100_000
    route = api.post("/v1/sessions/token")
    route.respond(200, content=nested.encode(), headers={"content-type": "application/json"})
    with pytest.raises(ResponseValidationError):
        await client.create_session_token(AVATAR)
    route.respond(200, content=b"x" * (5 << 20))
    with pytest.raises(ResponseTooLargeError):
        await client.create_session_token(AVATAR)
    route.respond(200, json=ok({"session_id": {"deep": [1] * 10}}))
    with pytest.raises(ResponseValidationError):
        await client.create_session_token(AVATAR)
    route.respond(200, json=["not", "an", "envelope"])
    with pytest.raises(ResponseValidationError):
        await client.create_session_token(AVATAR)
    route.respond(
        422, json={"detail": [{"loc": [{"x": 1}] * 50, "msg": "\x1b[2J" + "m" * 5000}] * 500}
    )
    with pytest.raises(RequestValidationError) as caught:
        await client.create_session_token(AVATAR)
    text = str(caught.value)
    assert "\x1b" not in text and len(text) < 20_000 and len(caught.value.fields) == 100


async def test_secrets_never_in_errors_reprs_or_logs(
    api: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api.post("/v1/sessions/token").respond(
        401,
        json={"code": 401, "message": f"bad key {KEY}"},  # a server echoing it back
    )
    api.post("/v1/sessions/start").respond(401, json={"code": 401, "message": "Invalid token"})
    texts = []
    async with LiveAvatarClient(api_key=KEY, base_url=BASE) as client:
        texts.append(repr(client))
        for call in (client.create_session_token(AVATAR), client.start_session(TOKEN)):
            try:
                await call
            except AuthenticationError as exc:
                texts += [repr(exc)]
        texts.append(repr(client.session(avatar_id=AVATAR)))
    for secret in (TOKEN,):
        assert secret not in caplog.text
        assert all(secret not in t for t in texts)
    assert KEY not in caplog.text and all(KEY not in t for t in texts)


def test_the_calls_on_a_sessions_way_load_no_pydantic() -> None:
    """token, start and stop are read by hand: a fresh process's connect does not wait for
    pydantic's import (~70 ms); the other calls load the models on first use."""
    import subprocess

    code = f"""
import asyncio, sys, respx
from heygen_streaming import LiveAvatarClient
async def main():
    with respx.mock(base_url="{BASE}") as api:
        api.post("/v1/sessions/token").respond(200, json={{"code": 1000, "data": {{
            "session_id": "s", "session_token": "t"}}}})
        api.post("/v1/sessions/start").respond(201, json={{"code": 1000, "data": {{
            "session_id": "s", "livekit_url": "wss://x", "livekit_client_token": "c",
            "max_session_duration": 60}}}})
        api.post("/v1/sessions/stop").respond(200, json={{"code": 1000, "data": None}})
        api.get("/v1/users/credits").respond(200, json={{"code": 1000, "data": {{}}}})
        async with LiveAvatarClient(api_key="k", base_url="{BASE}") as client:
            made = await client.create_session_token("{AVATAR}")
            started = await client.start_session(made.session_token)
            await client.stop_session(token=made.session_token)
            print("pydantic" in sys.modules, started.max_session_duration, repr(made))
            await client.credits()
            print("pydantic" in sys.modules)
asyncio.run(main())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    assert first == "False 60.0 SessionToken(session_id='s')"
    assert second == "True"
