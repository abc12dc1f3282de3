"""The HTTP core (`HttpCore.send`): deadline, redirects, size cap, raw responses."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from heygen_streaming import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ResponseValidationError,
    StreamingClient,
)
from heygen_streaming._errors import ResponseTooLargeError
from heygen_streaming._http import transport as _transport

from .conftest import BASE, SECRET, ok


async def test_send_returns_any_status_and_sends_headers(
    client: StreamingClient, api: respx.MockRouter
) -> None:
    route = api.get("/v3/thing").respond(404, json={"error": {"code": "nope"}})
    sent = await client._transport.send(
        "GET", "/v3/thing", endpoint="thing.get", idempotent=True, timeout=None
    )
    response = sent.response
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "nope"}}
    request = route.calls.last.request
    assert request.content == b""
    assert request.headers["x-api-key"] == SECRET
    assert client._transport.headers["X-Api-Key"] == SECRET  # usable for a streaming request
    assert client._transport.url("/v3/x/words") == f"{BASE}/v3/x/words"


async def test_send_keeps_decoded_body_for_gzip(
    client: StreamingClient, api: respx.MockRouter
) -> None:
    import gzip

    api.post("/v1/streaming.keep_alive").respond(
        200, content=gzip.compress(b'{"code": 100, "data": null}'),
        headers={"content-encoding": "gzip", "content-type": "application/json"},
    )  # fmt: skip
    assert await client.keep_alive("s") is None


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_redirects_never_followed_even_if_http_client_would(
    api: respx.MockRouter, status: int
) -> None:
    elsewhere = api.post("https://evil.example/steal").respond(200, json=ok(None))
    api.post("/v1/streaming.stop").respond(
        status, headers={"location": "https://evil.example/steal"}
    )
    async with (
        httpx.AsyncClient(follow_redirects=True) as http,
        StreamingClient(api_key=SECRET, base_url=BASE, http_client=http) as client,
    ):
        with pytest.raises(APIError) as info:
            await client.stop_session("s")
    assert elsewhere.call_count == 0
    assert info.value.status == status
    assert "evil.example" in str(info.value) and "not followed" in str(info.value)


async def test_body_over_cap_by_content_length(
    client: StreamingClient, api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_transport, "MAX_RESPONSE_BYTES", 1000)
    secret_body = b'{"data": "' + b"S" * 5000 + b'"}'
    route = api.post("/v1/streaming.keep_alive").respond(200, content=secret_body)
    with pytest.raises(ResponseTooLargeError) as info:
        await client.keep_alive("s")
    assert isinstance(info.value, ResponseValidationError)
    assert info.value.body is None
    assert "SSS" not in str(info.value)
    assert route.call_count == 1  # not retried


async def test_body_over_cap_while_streaming(
    client: StreamingClient, api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No Content-Length: reading stops at the cap instead of reading the whole body."""
    monkeypatch.setattr(_transport, "MAX_RESPONSE_BYTES", 1000)
    produced: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        for i in range(1_000_000):
            produced.append(i)
            yield b"x" * 100

    api.post("/v1/streaming.keep_alive").mock(
        return_value=httpx.Response(200, stream=_Stream(endless()))
    )
    with pytest.raises(ResponseTooLargeError):
        await client.keep_alive("s")
    assert len(produced) < 20


class _Stream(httpx.AsyncByteStream):
    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            yield chunk


async def _trickle_server(headers: bytes, interval: float) -> tuple[asyncio.Server, str, list[int]]:
    """A loopback server that sends its response one byte per ``interval`` seconds."""
    bytes_sent = [0]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        payload = headers + b'{"code": 100, "data": {"sessions": []}, "pad": "' + b" " * 600
        try:
            for byte in payload:
                writer.write(bytes([byte]))
                await writer.drain()
                bytes_sent[0] += 1
                await asyncio.sleep(interval)
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}", bytes_sent


@pytest.mark.parametrize("timeout_on", ["client", "call"])
async def test_timeout_is_a_total_deadline_against_a_trickling_server(timeout_on: str) -> None:
    """Each byte arrives well within the timeout; the whole body would take ~60 s."""
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 700\r\n\r\n"
    server, url, sent = await _trickle_server(head, 0.05)
    try:
        client_timeout = 0.5 if timeout_on == "client" else 30.0
        async with StreamingClient(api_key="k", base_url=url, timeout=client_timeout) as client:
            async with asyncio.timeout(10):  # the old per-read timeout ran to the end
                with pytest.raises(APITimeoutError, match="total deadline"):
                    if timeout_on == "client":
                        await client.keep_alive("s")
                    else:
                        await client.keep_alive("s", timeout=0.5)
        assert sent[0] < len(head) + 700
    finally:
        server.close()
        await server.wait_closed()


async def test_an_unanswered_idempotent_call_is_retried_within_the_deadline(
    sleeps: list[float],
) -> None:
    """A lost response costs one attempt's share of the deadline, then the call is retried."""
    requests: list[int] = []
    body = b'{"code": 100, "data": null, "message": "success"}'
    answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                await reader.readexactly(int(length.group(1)) if length else 0)
                requests.append(1)
                if len(requests) > 1:  # the first request is never answered
                    writer.write(answer % (len(body), body))
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        async with StreamingClient(api_key="k", base_url=url, timeout=6.0) as client:
            await client.keep_alive("s")  # idempotent: 3 attempts share the 6 s
        assert len(requests) == 2
        assert len(sleeps) == 1
    finally:
        server.close()
        await server.wait_closed()


async def test_deadline_covers_retries(sleeps: list[float]) -> None:
    """A retry that cannot finish before the deadline is not started."""
    with respx.mock(base_url=BASE) as api:
        route = api.post("/v1/streaming.stop").respond(503)
        async with StreamingClient(api_key="k", base_url=BASE, timeout=0.2) as client:
            with pytest.raises(APIError) as info:
                await client.stop_session("s")
    assert info.value.status == 503
    assert route.call_count == 1  # the first backoff (>= 0.25 s) would pass the deadline
    assert sleeps == []


async def test_connection_refused_names_url_and_hints(sleeps: list[float]) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    async with StreamingClient(api_key=SECRET, base_url=url) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.keep_alive("s")
    text = str(info.value)
    assert f"{url}/v1/streaming.keep_alive" in text
    assert "heygen-streaming emulator" in text and "HEYGEN_BASE_URL" in text
    assert SECRET not in text


@pytest.mark.parametrize("seconds", [0, -1.0, float("nan")])
async def test_non_positive_call_timeout_is_a_configuration_error(
    client: StreamingClient, api: respx.MockRouter, seconds: float
) -> None:
    from heygen_streaming import ConfigurationError

    route = api.post("/v1/streaming.keep_alive").respond(200, json=ok(None))
    with pytest.raises(ConfigurationError, match="timeout"):
        await client.keep_alive("s", timeout=seconds)
    assert route.call_count == 0


async def test_undecodable_body_is_a_validation_error(
    client: StreamingClient, api: respx.MockRouter
) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"not gzip at all"

    api.post("/v1/streaming.keep_alive").mock(
        return_value=httpx.Response(
            200, headers={"content-encoding": "gzip"}, stream=_Stream(body())
        )
    )
    with pytest.raises(ResponseValidationError, match="Content-Encoding"):
        await client.keep_alive("s")
