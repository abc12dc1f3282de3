"""The v3 Avatar Realtime calls: bodies, envelopes, errors, retries, the word stream (respx)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from heygen_streaming import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RealtimeInputClosedError,
    ResponseValidationError,
    StreamingClient,
)

from .conftest import BASE, SECRET

SID = "a1b2c3d4-..."
ROOT = "/v3/avatar-realtime"


def wire(name: str) -> Any:
    """A published example body: the guide's and the reference's, copied verbatim."""
    return json.loads(json.dumps(WIRE_V3[name]))


WIRE_V3: dict[str, Any] = {
    "create_response.guide.json": {"data": {"stream_id": "a1b2c3d4-..."}},
    "get_response.guide.json": {
        "data": {"stream_id": "a1b2c3d4-...", "status": "ready", "url": "https://.../stream.m3u8"}
    },
    "append_text_response.reference.json": {"data": {"buffered_bytes": 123, "ok": True}},
    "error_envelope.reference.json": {
        "error": {
            "code": "insufficient_credit",
            "message": "Your account has 5 credits but this video requires 10 credits.",
            "doc_url": "https://developers.heygen.com/docs/error-codes#insufficient-credit",
        }
    },
    "create_request_tts.guide.json": {
        "type": "tts",
        "avatar_id": "Daisy-inskirt-20220818",
        "voice_id": "1bd001e7e50f421d891986aad5158bc8",
        "text": "Hi there — welcome to HeyGen Avatar Realtime.",
    },
}


def sent_json(route: respx.Route, index: int = -1) -> Any:
    return json.loads(route.calls[index].request.content)


# -- create ---------------------------------------------------------------------------------


async def test_create_tts_sends_the_guide_body(
    api: respx.MockRouter, client: StreamingClient
) -> None:
    route = api.post(ROOT).respond(201, json=wire("create_response.guide.json"))
    body = wire("create_request_tts.guide.json")
    created = await client.create_realtime(
        "tts", avatar_id=body["avatar_id"], voice_id=body["voice_id"], text=body["text"]
    )
    assert created.stream_id == SID
    assert sent_json(route) == body
    request = route.calls[0].request
    assert request.headers["x-api-key"] == SECRET


async def test_create_text_stream_is_the_default(
    api: respx.MockRouter, client: StreamingClient
) -> None:
    route = api.post(ROOT).respond(201, json={"data": {"stream_id": "s", "extra": 1}})
    created = await client.create_realtime(avatar_id="a", voice_id="v", text="Hello")
    assert sent_json(route) == {
        "type": "text_stream",
        "avatar_id": "a",
        "voice_id": "v",
        "text": "Hello",
    }
    assert created.model_extra == {"extra": 1}


async def test_create_audio_sources(
    api: respx.MockRouter, client: StreamingClient, tmp_path: Path
) -> None:
    route = api.post(ROOT).respond(201, json={"data": {"stream_id": "s"}})
    await client.create_realtime("audio", avatar_id="a", audio="https://x.test/a.mp3")
    assert sent_json(route)["audio"] == {"type": "url", "url": "https://x.test/a.mp3"}
    wav = tmp_path / "voice.wav"
    wav.write_bytes(b"RIFF....WAVE")
    await client.create_realtime("audio", avatar_id="a", audio=wav)
    assert sent_json(route)["audio"] == {
        "type": "base64",
        "media_type": "audio/x-wav",
        "data": base64.b64encode(b"RIFF....WAVE").decode(),
    }
    await client.create_realtime("audio", avatar_id="a", audio=b"ID3")
    assert sent_json(route)["audio"]["media_type"] == "audio/mpeg"
    asset = {"type": "asset_id", "asset_id": "as_1"}
    await client.create_realtime("audio", avatar_id="a", audio=asset)
    assert sent_json(route) == {"type": "audio", "avatar_id": "a", "audio": asset}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"type": "video", "avatar_id": "a", "voice_id": "v", "text": "t"}, "type must be"),
        ({"type": "tts", "avatar_id": "a", "text": "t"}, "voice_id"),
        ({"type": "tts", "avatar_id": "a", "voice_id": "v", "text": "  "}, "text"),
        ({"type": "text_stream", "avatar_id": "", "voice_id": "v", "text": "t"}, "avatar_id"),
        ({"type": "tts", "avatar_id": "a", "voice_id": "v", "text": "t", "audio": b"x"}, "audio"),
        ({"type": "audio", "avatar_id": "a"}, "needs audio"),
        ({"type": "audio", "avatar_id": "a", "audio": b"x", "text": "t"}, "text is not used"),
        ({"type": "audio", "avatar_id": "a", "audio": "/nonexistent/a.mp3"}, "not found"),
        ({"type": "audio", "avatar_id": "a", "audio": {"url": "x"}}, "needs a 'type'"),
    ],
)
async def test_create_is_validated_before_any_request(
    api: respx.MockRouter, client: StreamingClient, kwargs: dict[str, Any], match: str
) -> None:
    route = api.post(ROOT).respond(201, json={"data": {"stream_id": "s"}})
    with pytest.raises(ConfigurationError, match=match):
        await client.create_realtime(**kwargs)
    assert not route.called


async def test_create_is_never_retried(api: respx.MockRouter, client: StreamingClient) -> None:
    route = api.post(ROOT).respond(503, json={"error": {"code": "unavailable", "message": "x"}})
    with pytest.raises(InternalServerError):
        await client.create_realtime(avatar_id="a", voice_id="v", text="t")
    assert route.call_count == 1


# -- get ------------------------------------------------------------------------------------


async def test_get_reads_the_guide_variant(api: respx.MockRouter, client: StreamingClient) -> None:
    api.get(f"{ROOT}/{SID}").respond(200, json=wire("get_response.guide.json"))
    info = await client.get_realtime(SID)
    assert info.status == "streaming"  # "ready" in the guide
    assert info.hls_url == "https://.../stream.m3u8"  # "url" in the guide
    assert not info.terminal


async def test_get_reads_the_reference_shape(
    api: respx.MockRouter, client: StreamingClient
) -> None:
    data = {
        "stream_id": "s/1",
        "status": "completed",
        "hls_url": None,
        "end_reason": "idle_timeout",
        "error_message": None,
        "new_field": [1],
    }
    route = api.get(f"{ROOT}/s%2F1").respond(200, json={"data": data})
    info = await client.get_realtime("s/1")  # the id is quoted into the path
    assert route.called
    assert (info.status, info.end_reason, info.terminal) == ("completed", "idle_timeout", True)
    assert info.model_extra == {"new_field": [1]}


async def test_get_is_retried(
    api: respx.MockRouter, client: StreamingClient, sleeps: list[float]
) -> None:
    route = api.get(f"{ROOT}/s")
    route.side_effect = [
        httpx.Response(503, json={"error": {"code": "unavailable", "message": "busy"}}),
        httpx.Response(200, json={"data": {"stream_id": "s", "status": "pending"}}),
    ]
    info = await client.get_realtime("s")
    assert info.status == "pending"
    assert route.call_count == 2 and len(sleeps) == 1


async def test_unknown_status_is_a_validation_error(
    api: respx.MockRouter, client: StreamingClient
) -> None:
    api.get(f"{ROOT}/s").respond(200, json={"data": {"status": "warming", "token": "tk-SECRET"}})
    with pytest.raises(ResponseValidationError) as info:
        await client.get_realtime("s")
    assert "tk-SECRET" not in str(info.value)


@pytest.mark.parametrize(
    "body", [[1, 2], {"stream_id": "s", "status": "pending"}, "text"], ids=["list", "flat", "str"]
)
async def test_success_without_data_envelope_is_a_validation_error(
    api: respx.MockRouter, client: StreamingClient, body: Any
) -> None:
    api.get(f"{ROOT}/s").respond(200, json=body)
    with pytest.raises(ResponseValidationError, match="data"):
        await client.get_realtime("s")


async def test_empty_stream_id_is_rejected(client: StreamingClient) -> None:
    with pytest.raises(ConfigurationError):
        await client.get_realtime("")


# -- append ---------------------------------------------------------------------------------


async def test_append_body_and_response(api: respx.MockRouter, client: StreamingClient) -> None:
    route = api.post(f"{ROOT}/s/text").respond(
        202, json=wire("append_text_response.reference.json")
    )
    result = await client.append_realtime_text("s", " more tokens")
    assert (result.buffered_bytes, result.ok) == (123, True)
    assert sent_json(route) == {"delta": " more tokens", "final": False}
    await client.append_realtime_text("s", "", final=True)
    assert sent_json(route) == {"delta": "", "final": True}


async def test_empty_delta_needs_final(api: respx.MockRouter, client: StreamingClient) -> None:
    route = api.post(f"{ROOT}/s/text").respond(202, json={"data": {"ok": True}})
    with pytest.raises(ConfigurationError, match="non-empty"):
        await client.append_realtime_text("s", "")
    assert not route.called


async def test_410_after_final_is_its_own_error(
    api: respx.MockRouter, client: StreamingClient
) -> None:
    body = {"error": {"code": "stream_closed", "message": "input closed", "doc_url": "https://d"}}
    route = api.post(f"{ROOT}/s/text").respond(410, json=body)
    with pytest.raises(RealtimeInputClosedError) as info:
        await client.append_realtime_text("s", "late")
    err = info.value
    assert isinstance(err, APIError)
    assert (err.status, err.code, err.doc_url, err.endpoint) == (
        410,
        "stream_closed",
        "https://d",
        "avatar-realtime.text",
    )
    assert "input is closed" in str(err)
    assert route.call_count == 1


async def test_append_is_never_retried(api: respx.MockRouter, client: StreamingClient) -> None:
    route = api.post(f"{ROOT}/s/text").respond(500, json={"error": {"message": "boom"}})
    with pytest.raises(InternalServerError):
        await client.append_realtime_text("s", "hi")
    assert route.call_count == 1


# -- cancel ---------------------------------------------------------------------------------


async def test_cancel_is_idempotent_and_retried(
    api: respx.MockRouter, client: StreamingClient
) -> None:
    route = api.post(f"{ROOT}/s/cancel")
    route.side_effect = [
        httpx.Response(502),
        httpx.Response(200, json={"data": {"stream_id": "s", "cancelled": False}}),
    ]
    result = await client.cancel_realtime("s")
    assert (result.stream_id, result.cancelled) == ("s", False)
    assert route.call_count == 2
    assert sent_json(route) == {}


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "invalid_parameter", BadRequestError),
        (401, "unauthorized", AuthenticationError),
        (402, "insufficient_credit", BadRequestError),
        (403, "forbidden", PermissionDeniedError),
        (404, "resource_not_found", NotFoundError),
        (429, "rate_limit_exceeded", RateLimitError),
        (500, "internal_error", InternalServerError),
    ],
)
async def test_v3_error_envelope_maps_by_status(
    api: respx.MockRouter, status: int, code: str, cls: type[APIError]
) -> None:
    body = {
        "error": {
            "code": code,
            "message": "Nope.",
            "param": "avatar_id",
            "doc_url": f"https://developers.heygen.com/docs/error-codes#{code}",
        }
    }
    api.post(ROOT).respond(status, json=body, headers={"x-request-id": "req-9"})
    async with StreamingClient(api_key=SECRET, base_url=BASE, max_retries=0) as c:
        with pytest.raises(cls) as info:
            await c.create_realtime(avatar_id="a", voice_id="v", text="t")
    err = info.value
    assert type(err) is cls
    assert (err.status, err.code, err.param) == (status, code, "avatar_id")
    assert err.doc_url == f"https://developers.heygen.com/docs/error-codes#{code}"
    assert err.request_id == "req-9"
    assert err.body == body
    assert err.endpoint == "avatar-realtime.create"
    assert code in str(err) and "Nope." in str(err)
    assert SECRET not in str(err) and SECRET not in repr(err)


async def test_published_error_example(api: respx.MockRouter, client: StreamingClient) -> None:
    api.post(ROOT).respond(402, json=wire("error_envelope.reference.json"))
    with pytest.raises(APIError) as info:
        await client.create_realtime(avatar_id="a", voice_id="v", text="t")
    assert info.value.code == "insufficient_credit"
    assert info.value.param is None
    assert "5 credits" in info.value.message


async def test_error_inside_a_2xx_body(api: respx.MockRouter, client: StreamingClient) -> None:
    api.get(f"{ROOT}/s").respond(200, json={"error": {"code": "weird", "message": "no"}})
    with pytest.raises(APIError) as info:
        await client.get_realtime("s")
    assert info.value.code == "weird"


async def test_non_json_error(api: respx.MockRouter, client: StreamingClient) -> None:
    api.post(f"{ROOT}/s/cancel").respond(
        404, text="<html>nope</html>", headers={"content-type": "text/html"}
    )
    with pytest.raises(NotFoundError, match="non-JSON body: text/html"):
        await client.cancel_realtime("s")


# -- words (SSE) ----------------------------------------------------------------------------

BATCH_1 = {
    "words": [
        {"word": "Hi", "start": 0.0, "end": 0.18},
        {"word": "there", "start": 0.18, "end": 0.42},
    ]
}
BATCH_2 = {"words": [{"word": "—", "start": 0.42, "end": 0.42}]}


def sse_body(*parts: bytes) -> Iterator[bytes]:
    yield from parts


async def test_words_stream_until_end(api: respx.MockRouter, client: StreamingClient) -> None:
    stream = sse_body(
        b": hello\r\n\r\n",
        b"data: " + json.dumps(BATCH_1).encode()[:20],
        json.dumps(BATCH_1).encode()[20:] + b"\r\n\r\ndata: ",
        json.dumps(BATCH_2).encode() + b'\n\nevent: end\ndata: {"total": 3}\n\n',
        b"data: " + json.dumps(BATCH_2).encode() + b"\n\n",  # after end: never read
    )
    route = api.get(f"{ROOT}/s/words").mock(
        return_value=httpx.Response(
            200,
            headers={"content-type": "text/event-stream"},
            stream=httpx.ByteStream(b"".join(stream)),
        )
    )
    batches = [b async for b in client.realtime_words("s")]
    assert [[(w.word, w.start, w.end) for w in b.words] for b in batches] == [
        [("Hi", 0.0, 0.18), ("there", 0.18, 0.42)],
        [("—", 0.42, 0.42)],
    ]
    request = route.calls[0].request
    assert request.headers["accept"] == "text/event-stream"
    assert request.headers["x-api-key"] == SECRET


async def test_words_open_error_uses_the_v3_envelope(
    api: respx.MockRouter, client: StreamingClient
) -> None:
    api.get(f"{ROOT}/s/words").respond(
        404, json={"error": {"code": "not_found", "message": "no such stream"}}
    )
    with pytest.raises(NotFoundError) as info:
        async for _ in client.realtime_words("s"):
            pass
    assert info.value.code == "not_found"


async def test_words_open_is_retried(
    api: respx.MockRouter, client: StreamingClient, sleeps: list[float]
) -> None:
    route = api.get(f"{ROOT}/s/words")
    route.side_effect = [
        httpx.ConnectError("refused"),
        httpx.Response(503),
        httpx.Response(200, content=b"event: end\ndata: {}\n\n"),
    ]
    assert [b async for b in client.realtime_words("s")] == []
    assert route.call_count == 3 and len(sleeps) == 2


async def test_words_bad_json_is_a_validation_error(
    api: respx.MockRouter, client: StreamingClient
) -> None:
    api.get(f"{ROOT}/s/words").respond(200, content=b"data: {not json\n\n")
    with pytest.raises(ResponseValidationError, match="not JSON"):
        async for _ in client.realtime_words("s"):
            pass


async def test_words_broken_connection(api: respx.MockRouter, client: StreamingClient) -> None:
    class Broken(httpx.AsyncByteStream):
        async def __aiter__(self):  # type: ignore[no-untyped-def]
            yield b"data: " + json.dumps(BATCH_2).encode() + b"\n\n"
            raise httpx.ReadError("reset")

    api.get(f"{ROOT}/s/words").mock(return_value=httpx.Response(200, stream=Broken()))
    got = []
    with pytest.raises(APIConnectionError, match="broke off"):
        async for batch in client.realtime_words("s"):
            got.append(batch)
    assert len(got) == 1


async def test_429_is_a_rate_limit_even_for_concurrency(
    api: respx.MockRouter, client: StreamingClient
) -> None:
    body = {"error": {"code": "rate_limit_exceeded", "message": "At most 3 concurrent sessions"}}
    api.post(ROOT).respond(429, json=body, headers={"retry-after": "5"})
    with pytest.raises(RateLimitError) as info:
        await client.create_realtime(avatar_id="a", voice_id="v", text="t")
    assert type(info.value) is RateLimitError and info.value.retry_after == 5.0


@pytest.mark.parametrize(
    ("path", "cls"), [("/s/text", RealtimeInputClosedError), ("/s", NotFoundError)]
)
async def test_410_is_never_a_retired_endpoint(
    api: respx.MockRouter, client: StreamingClient, path: str, cls: type[APIError]
) -> None:
    api.route(path=f"{ROOT}{path}").respond(410, json={"error": {"message": "gone"}})
    with pytest.raises(cls) as info:
        if path.endswith("text"):
            await client.append_realtime_text("s", "x")
        else:
            await client.get_realtime("s")
    assert type(info.value) is cls and info.value.status == 410
    assert "client.realtime()" not in str(info.value)


async def test_rate_limit_carries_retry_after(
    api: respx.MockRouter, client: StreamingClient
) -> None:
    body = {"error": {"code": "rate_limit_exceeded", "message": "3 streams at most"}}
    route = api.post(ROOT).respond(429, json=body, headers={"retry-after": "7"})
    with pytest.raises(RateLimitError) as info:
        await client.create_realtime(avatar_id="a", voice_id="v", text="t")
    assert info.value.retry_after == 7.0
    assert route.call_count == 1  # create is never retried


async def test_redirects_are_not_followed(api: respx.MockRouter, client: StreamingClient) -> None:
    api.get(f"{ROOT}/s").respond(302, headers={"location": "https://elsewhere.test/x"})
    with pytest.raises(APIError, match="not followed") as info:
        await client.get_realtime("s")
    assert info.value.status == 302


async def test_server_text_is_sanitized(api: respx.MockRouter, client: StreamingClient) -> None:
    body = {"error": {"code": "bad\x1b[2J", "message": "\x1b[31mred\x1b[0m\nsecond line\x07"}}
    api.post(f"{ROOT}/s/cancel").respond(400, json=body)
    with pytest.raises(BadRequestError) as info:
        await client.cancel_realtime("s")
    text = str(info.value)
    assert "\x1b" not in text and "\n" not in text and "\x07" not in text
    assert "red second line" in text
    assert info.value.code == "bad"


async def test_hls_url_is_not_in_reprs(api: respx.MockRouter, client: StreamingClient) -> None:
    url = "https://cdn.test/live/s/stream.m3u8?token=SIGNED-SECRET"
    api.get(f"{ROOT}/s").respond(200, json={"data": {"status": "streaming", "hls_url": url}})
    info = await client.get_realtime("s")
    assert info.hls_url == url
    assert "SIGNED-SECRET" not in repr(info) and "SIGNED-SECRET" not in str(info)


async def test_words_gzipped_error_body(api: respx.MockRouter, client: StreamingClient) -> None:
    import gzip

    body = json.dumps({"error": {"code": "forbidden", "message": "not yours"}}).encode()
    api.get(f"{ROOT}/s/words").respond(
        403,
        content=gzip.compress(body),
        headers={"content-encoding": "gzip", "content-type": "application/json"},
    )
    with pytest.raises(PermissionDeniedError) as info:
        async for _ in client.realtime_words("s"):
            pass
    assert info.value.code == "forbidden" and "not yours" in str(info.value)


# -- JSON nested too deeply (issue 18, item 3) ----------------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000  # within the 4 MiB cap; past Python's recursion limit


def _deep(*, envelope: bool = True) -> bytes:
    inner = f'{{"stream_id": "s", "status": "streaming", "x": {DEEP}}}'
    return (f'{{"data": {inner}}}' if envelope else inner).encode()


@pytest.mark.parametrize(
    ("method", "path", "call"),
    [
        ("POST", ROOT, lambda c: c.create_realtime(avatar_id="a", voice_id="v", text="t")),
        ("GET", f"{ROOT}/s", lambda c: c.get_realtime("s")),
        ("POST", f"{ROOT}/s/cancel", lambda c: c.cancel_realtime("s")),
        ("POST", f"{ROOT}/s/text", lambda c: c.append_realtime_text("s", "hi")),
    ],
)
@pytest.mark.parametrize("status", [200, 404, 500])
async def test_deep_json_is_a_validation_error_on_every_call(
    api: respx.MockRouter,
    client: StreamingClient,
    sleeps: list[float],
    method: str,
    path: str,
    call: Any,
    status: int,
) -> None:
    api.route(method=method, path=path).respond(status, content=_deep())
    with pytest.raises(ResponseValidationError, match="nested too deeply"):
        await call(client)


async def test_deep_json_in_a_404_word_stream_body(
    api: respx.MockRouter, client: StreamingClient
) -> None:
    api.get(f"{ROOT}/s/words").respond(404, content=_deep())
    with pytest.raises(ResponseValidationError, match="nested too deeply"):
        async for _ in client.realtime_words("s"):
            pass


@pytest.mark.parametrize("envelope", [True, False])
async def test_deep_json_in_a_word_batch(
    api: respx.MockRouter, client: StreamingClient, envelope: bool
) -> None:
    good = json.dumps(BATCH_2).encode()
    body = b"data: " + good + b"\n\ndata: " + _deep(envelope=envelope) + b"\n\n"
    api.get(f"{ROOT}/s/words").respond(200, content=body)
    got = []
    with pytest.raises(ResponseValidationError, match="nested too deeply"):
        async for batch in client.realtime_words("s"):
            got.append(batch)
    assert len(got) == 1


# -- word times the caller can use (issue 18, item 15) --------------------------------------


async def test_word_times_that_are_not_times_are_dropped_or_clamped(
    api: respx.MockRouter, client: StreamingClient, caplog: pytest.LogCaptureFixture
) -> None:
    words = (
        '{"word": "ok", "start": 0.1, "end": 0.2}, {"word": "nan", "start": NaN, "end": 1},'
        '{"word": "inf", "start": 1, "end": Infinity}, {"word": "-inf", "start": -Infinity,'
        ' "end": 1}, {"word": "neg", "start": -0.5, "end": 0.3},'
        '{"word": "back", "start": 2.0, "end": 1.5}, {"word": "both", "start": -2, "end": -3}'
    )
    body = b'data: {"words": [' + words.encode() + b"]}\n\nevent: end\ndata: {}\n\n"
    api.get(f"{ROOT}/s/words").respond(200, content=body)
    caplog.set_level("WARNING", "heygen_streaming")
    (batch,) = [b async for b in client.realtime_words("s")]
    assert [(w.word, w.start, w.end) for w in batch.words] == [
        ("ok", 0.1, 0.2),
        ("neg", 0.0, 0.3),
        ("back", 2.0, 2.0),
        ("both", 0.0, 0.0),
    ]
    assert caplog.text.count("not finite") == 3 and caplog.text.count("clamped") == 3
