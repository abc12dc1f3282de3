"""Construction, environment, lifecycle, logging and secret hygiene of StreamingClient."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
import types
from typing import Any

import httpx
import pytest
import respx

from heygen_streaming import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    ClientClosedError,
    ConfigurationError,
    HeyGenError,
    ResponseValidationError,
    StreamingClient,
)

from .conftest import BASE, SECRET, ok


def test_no_credentials_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="HEYGEN_API_KEY"):
        StreamingClient()
    with pytest.raises(ConfigurationError, match="no API key"):
        StreamingClient(api_key="")


def test_env_key_and_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEYGEN_API_KEY", SECRET)
    monkeypatch.setenv("HEYGEN_BASE_URL", "http://127.0.0.1:8000/")
    client = StreamingClient()
    assert client.base_url == "http://127.0.0.1:8000"
    assert repr(client) == "StreamingClient(base_url='http://127.0.0.1:8000')"


def test_explicit_base_url_beats_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEYGEN_BASE_URL", "http://127.0.0.1:8000")
    assert StreamingClient(api_key="k", base_url=BASE).base_url == BASE


def test_default_base_url() -> None:
    assert StreamingClient(api_key="k").base_url == "https://api.heygen.com"


async def test_env_key_is_sent(monkeypatch: pytest.MonkeyPatch, api: respx.MockRouter) -> None:
    monkeypatch.setenv("HEYGEN_API_KEY", "env-key-123")
    route = api.post("/v1/streaming.keep_alive").respond(200, json=ok(None))
    async with StreamingClient(base_url=BASE) as c:
        await c.keep_alive("s")
    assert route.calls.last.request.headers["x-api-key"] == "env-key-123"


def test_token_without_key_and_env_is_ignored_for_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEYGEN_API_KEY", "env-key")
    client = StreamingClient(token="tok")  # the token wins over the env key
    assert client.base_url == "https://api.heygen.com"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"api_key": "k", "token": "t"}, "not both"),
        ({"token": ""}, "token is empty"),
        ({"api_key": "k", "base_url": "api.heygen.com"}, "http"),
        ({"api_key": "k", "max_retries": -1}, "max_retries"),
        ({"api_key": "k", "timeout": 0}, "timeout"),
        ({"api_key": "k", "timeout": float("nan")}, "timeout"),
        ({"api_key": "k", "base_url": "http://api.test\r\nX: 1"}, "control"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        StreamingClient(**kwargs)  # type: ignore[arg-type]


def test_properties() -> None:
    client = StreamingClient(api_key="k", timeout=None, max_retries=4)
    assert client.timeout is None
    assert client.max_retries == 4
    assert client.closed is False
    with pytest.raises(AttributeError):
        client.closed = True  # type: ignore[misc]


async def test_aclose_idempotent_and_refuses_calls(api: respx.MockRouter) -> None:
    route = api.post("/v1/streaming.keep_alive").respond(200, json=ok(None))
    client = StreamingClient(api_key="k", base_url=BASE)
    await client.keep_alive("s")
    await client.aclose()
    await client.aclose()
    assert client.closed
    with pytest.raises(ClientClosedError, match="closed"):
        await client.keep_alive("s")
    with pytest.raises(ClientClosedError, match="single use"):
        async with client:
            pass
    assert route.call_count == 1


async def test_context_manager_closes_and_is_single_use(api: respx.MockRouter) -> None:
    client = StreamingClient(api_key="k", base_url=BASE)
    async with client as entered:
        assert entered is client
        with pytest.raises(ClientClosedError, match="already entered"):
            async with client:
                pass
        assert not client.closed
    assert client.closed
    with pytest.raises(ClientClosedError):
        async with client:
            pass
    with pytest.raises(ClientClosedError):
        await client.new_session()


async def test_context_manager_closes_on_error(api: respx.MockRouter) -> None:
    client = StreamingClient(api_key="k", base_url=BASE)
    with pytest.raises(KeyError):
        async with client:
            raise KeyError("x")
    assert client.closed


async def test_owned_http_client_is_closed(api: respx.MockRouter) -> None:
    client = StreamingClient(api_key="k", base_url=BASE)
    http = client._transport.http
    async with client:
        pass
    assert http.is_closed


async def test_injected_http_client_not_closed(api: respx.MockRouter) -> None:
    route = api.post("/v1/streaming.stop").respond(200, json=ok(None))
    async with httpx.AsyncClient() as http:
        async with StreamingClient(api_key="k", base_url=BASE, http_client=http) as c:
            await c.stop_session("s")
        assert c.closed
        assert not http.is_closed
        response = await http.post(f"{BASE}/v1/streaming.stop", json={})
        assert response.status_code == 200
    assert route.call_count == 2


async def test_debug_log_line_per_attempt(
    api: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    api.post("/v1/streaming.keep_alive").mock(
        side_effect=[httpx.Response(503), httpx.Response(200, json=ok(None))]
    )
    caplog.set_level(logging.DEBUG, logger="heygen_streaming")
    async with StreamingClient(api_key="k", base_url=BASE) as c:
        await c.keep_alive("s")
    lines = [r.getMessage() for r in caplog.records if r.name == "heygen_streaming"]
    attempts = [line for line in lines if line.startswith("POST streaming.keep_alive")]
    assert len(attempts) == 2
    assert "-> 503" in attempts[0] and "(attempt 1/3)" in attempts[0] and " ms " in attempts[0]
    assert "-> 200" in attempts[1] and "(attempt 2/3)" in attempts[1]
    assert any(line.startswith("retrying streaming.keep_alive") for line in lines)


async def test_secret_never_leaks(api: respx.MockRouter, caplog: pytest.LogCaptureFixture) -> None:
    """Key and token never appear in reprs, error messages or any DEBUG log line."""
    token = "tok-UNIT-SECRET-bearer-91c"
    caplog.set_level(logging.DEBUG)  # every logger: ours, httpx, httpcore
    api.post("/v1/streaming.stop").respond(401, json={"code": 400112, "message": "Unauthorized"})
    api.post("/v1/streaming.keep_alive").mock(side_effect=httpx.ConnectError("refused"))
    api.get("/v1/streaming.list").respond(200, content=b"<html>")
    api.post("/v1/streaming.new").respond(200, json=ok({"access_token": "x"}))
    api.post("/v1/streaming.task").respond(503)
    errors: list[Exception] = []
    for client in (
        StreamingClient(api_key=SECRET, base_url=BASE),
        StreamingClient(token=token, base_url=BASE),
    ):
        async with client:
            assert SECRET not in repr(client) and token not in repr(client)
            for call in (
                client.stop_session("s"),
                client.keep_alive("s"),
                client.list_sessions(),
                client.new_session(),
                client.send_task("s", "hi"),
            ):
                with pytest.raises(HeyGenError) as info:
                    await call
                errors.append(info.value)
    assert {type(e) for e in errors} >= {AuthenticationError, ResponseValidationError}
    assert any(isinstance(e, APIError) and e.status == 503 for e in errors)
    for err in errors:
        for text in (str(err), repr(err), str(err.__cause__)):
            assert SECRET not in text and token not in text
    assert caplog.records, "expected debug logging"
    for record in caplog.records:
        text = record.getMessage() + repr(record.args)
        assert SECRET not in text and token not in text


async def test_real_transport_logs_and_errors_carry_no_secret(
    caplog: pytest.LogCaptureFixture, sleeps: list[float]
) -> None:
    """Through the real httpx/httpcore stack on loopback (no respx), DEBUG logs stay clean."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        body = b'{"code": 400112, "message": "Unauthorized"}'
        writer.write(
            b"HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\n"
            b"x-request-id: rid-1\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s"
            % (len(body), body)
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    caplog.set_level(logging.DEBUG)
    try:
        async with StreamingClient(api_key=SECRET, base_url=f"http://127.0.0.1:{port}") as c:
            with pytest.raises(AuthenticationError) as info:
                await c.keep_alive("s")
        assert info.value.request_id == "rid-1"
        async with StreamingClient(api_key=SECRET, base_url=f"http://127.0.0.1:{dead_port}") as c:
            with pytest.raises(APIConnectionError) as conn:
                await c.new_session()
        assert len(sleeps) == 2  # connection refused: never sent, so even .new is retried
    finally:
        server.close()
        await server.wait_closed()
    assert SECRET.encode() in seen[0]  # it was sent...
    for record in caplog.records:  # ...but never logged
        assert SECRET not in record.getMessage() + repr(record.args)
    assert SECRET not in str(info.value) + str(conn.value) + str(conn.value.__cause__)


def test_session_factory_passes_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    captured: dict[str, Any] = {}

    class FakeSession:
        def __init__(self, client: StreamingClient, **kwargs: Any) -> None:
            captured.update(client=client, **kwargs)

    fake = types.ModuleType("heygen_streaming._v1.session")
    fake.Session = FakeSession  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "heygen_streaming._v1.session", fake)
    client = StreamingClient(api_key="k")
    session = client.session("Anna", "voice-1", "low", connect_timeout=3.0, knowledge_base="kb")
    assert isinstance(session, FakeSession)
    assert captured == {
        "client": client,
        "avatar": "Anna",
        "voice": "voice-1",
        "quality": "low",
        "connect_timeout": 3.0,
        "watchdog_timeout": 5.0,
        "keep_alive_interval": None,
        "stop_timeout": 5.0,
        "video_capacity": 10,
        "audio_capacity": 50,
        "ice_servers": None,
        "ice_gather_timeout": None,
        "knowledge_base": "kb",
    }
