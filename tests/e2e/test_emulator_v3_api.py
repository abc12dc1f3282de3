"""The emulator's ``/v3/avatar-realtime`` routes over raw HTTP: auth, validation, status
transitions, appends, cancel, limits and timeouts."""

from __future__ import annotations

import asyncio

import pytest

from heygen_streaming.emulator import Emulator
from heygen_streaming.emulator.__main__ import build_parser
from heygen_streaming.emulator.v3 import RealtimeOptions, Status, options_from_args

from ._v3util import (
    BASE,
    KEY,
    OTHER_KEY,
    client,
    create,
    error_of,
    read_sse,
    status,
    stream_of,
    text_stream,
    tts,
    v3_emulator,
)

pytestmark = pytest.mark.timeout(60)


async def test_auth_header_variants_and_401_envelope() -> None:
    async with v3_emulator() as emu, client(emu, key=None) as http:
        error = error_of(await http.post(BASE, json=tts()), 401, "unauthorized")
        assert error["doc_url"].endswith("#unauthorized") and "param" not in error
        bad = {"x-api-key": "wrong"}
        error_of(await http.post(BASE, json=tts(), headers=bad), 401, "unauthorized")
        bad = {"Authorization": "Bearer wrong"}
        error_of(await http.get(f"{BASE}/x", headers=bad), 401, "unauthorized")
        for headers in (
            {"X-Api-Key": KEY},
            {"X-API-KEY": KEY},
            {"Authorization": f"Bearer {KEY}"},
        ):
            response = await http.post(BASE, json=tts(), headers=headers)
            assert response.status_code == 201, headers
        # A v1 create_token token is accepted as a bearer token for its key.
        minted = await http.post("/v1/streaming.create_token", headers={"X-Api-Key": KEY})
        token = minted.json()["data"]["token"]
        response = await http.post(BASE, json=tts(), headers={"Authorization": f"Bearer {token}"})
        error_of(response, 429, "rate_limit_exceeded")  # same account as KEY: 3 already live


async def test_any_key_mode_isolates_accounts() -> None:
    async with (
        Emulator(api_key=None) as emu,
        client(emu, "alice") as alice,
        client(emu, "bob") as bob,
    ):
        stream_id = await create(alice, tts())
        assert (await status(alice, stream_id))["stream_id"] == stream_id
        error_of(await bob.get(f"{BASE}/{stream_id}"), 404, "resource_not_found")
        error_of(await bob.post(f"{BASE}/{stream_id}/cancel"), 404, "resource_not_found")
        assert (await alice.post(f"{BASE}/{stream_id}/cancel")).json()["data"]["cancelled"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "type"),
        ({"type": "video"}, "type"),
        ({"type": "tts", "avatar_id": "a", "voice_id": "v"}, "text"),
        ({"type": "tts", "avatar_id": "a", "voice_id": "v", "text": ""}, "text"),
        ({"type": "tts", "avatar_id": "a", "voice_id": "v", "text": "   "}, "text"),
        ({"type": "tts", "avatar_id": 5, "voice_id": "v", "text": "hi"}, "avatar_id"),
        ({"type": "tts", "avatar_id": "a", "text": "hi"}, "voice_id"),
        ({"type": "text_stream", "voice_id": "v", "text": "hi"}, "avatar_id"),
        ({"type": "text_stream", "avatar_id": "a", "voice_id": "v", "text": "x" * 20_001}, "text"),
        ({"type": "audio", "avatar_id": "a"}, "audio"),
        ({"type": "audio", "avatar_id": "a", "audio": {"type": "ftp"}}, "audio.type"),
        ({"type": "audio", "avatar_id": "a", "audio": {"type": "url"}}, "audio.url"),
        (
            {"type": "audio", "avatar_id": "a", "audio": {"type": "base64", "media_type": "x"}},
            "audio.data",
        ),
        (
            {
                "type": "audio",
                "avatar_id": "a",
                "audio": {"type": "base64", "media_type": "audio/wav", "data": "!!notb64"},
            },
            "audio.data",
        ),
    ],
)
async def test_create_validation_names_the_field(body: dict[str, object], param: str) -> None:
    async with v3_emulator() as emu, client(emu) as http:
        error = error_of(await http.post(BASE, json=body), 400, "invalid_parameter")
        assert error["param"] == param
        assert emu.realtime.registry.streams == {}


async def test_malformed_bodies_unknown_routes_and_methods() -> None:
    async with v3_emulator() as emu, client(emu) as http:
        error_of(await http.post(BASE, content=b"{nope"), 400, "invalid_parameter")
        error_of(await http.post(BASE, json=[1, 2]), 400, "invalid_parameter")
        error_of(await http.get(f"{BASE}/no-such-stream"), 404, "resource_not_found")
        error_of(
            await http.post(f"{BASE}/no-such-stream/text", json={"delta": "x"}),
            404,
            "resource_not_found",
        )
        error_of(await http.get(f"{BASE}/no-such-stream/words"), 404, "resource_not_found")
        error_of(await http.delete(BASE), 405, "method_not_allowed")
        error_of(await http.get("/v3/nothing-here"), 404, "not_found")
        huge = b'{"type": "tts", "text": "' + b"x" * (17 << 20) + b'"}'
        error_of(await http.post(BASE, content=huge), 413, "payload_too_large")
        preflight = await http.options(
            BASE, headers={"Origin": "http://x", "Access-Control-Request-Method": "POST"}
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == "*"


async def test_tts_status_pending_streaming_completed() -> None:
    async with v3_emulator() as emu, client(emu) as http:
        stream_id = await create(http, tts("Hi there."))
        first = await status(http, stream_id)
        assert first == {"stream_id": stream_id, "status": "pending"}
        stream = stream_of(emu, stream_id)
        assert await stream.wait_status(Status.STREAMING) is Status.STREAMING
        live = await status(http, stream_id)
        assert live["status"] == "streaming" and "end_reason" not in live
        assert live["hls_url"].startswith(f"{emu.base_url}{BASE}/{stream_id}/hls/")
        assert live["hls_url"].endswith(".m3u8")
        assert await stream.wait_ended() is Status.COMPLETED
        done = await status(http, stream_id)
        assert done == {"stream_id": stream_id, "status": "completed", "end_reason": "final_marker"}
        # Cancelling a completed stream is a no-op.
        response = await http.post(f"{BASE}/{stream_id}/cancel")
        assert response.json() == {"data": {"stream_id": stream_id, "cancelled": False}}


async def test_text_stream_appends_final_then_410() -> None:
    async with v3_emulator() as emu, client(emu) as http:
        stream_id = await create(http, text_stream("Hello"))
        url = f"{BASE}/{stream_id}/text"
        response = await http.post(url, json={"delta": " wörld,"})
        assert response.status_code == 202
        assert response.json() == {"data": {"buffered_bytes": 5 + 8, "ok": True}}
        error = error_of(await http.post(url, json={"delta": ""}), 400, "invalid_parameter")
        assert error["param"] == "delta"
        error_of(await http.post(url, json={"delta": 3}), 400, "invalid_parameter")
        response = await http.post(url, json={"delta": " again", "final": True})
        assert response.json()["data"] == {"buffered_bytes": 19, "ok": True}
        error_of(await http.post(url, json={"delta": "late"}), 410, "stream_closed")
        error_of(await http.post(url, json={"delta": "", "final": True}), 410, "stream_closed")
        events = await read_sse(http, stream_id)
        words = [w["word"] for name, data in events if name == "message" for w in data["words"]]
        assert words == ["Hello", "wörld", ",", "again"]
        assert (await status(http, stream_id))["end_reason"] == "final_marker"


async def test_partial_word_across_deltas_is_one_word() -> None:
    async with v3_emulator(partial_word_wait=30) as emu, client(emu) as http:
        stream_id = await create(http, text_stream("Good morn"))
        url = f"{BASE}/{stream_id}/text"
        await http.post(url, json={"delta": "ing every"})
        await http.post(url, json={"delta": "one!", "final": True})
        events = await read_sse(http, stream_id)
        words = [w["word"] for name, data in events if name == "message" for w in data["words"]]
        assert words == ["Good", "morning", "everyone", "!"]


async def test_append_to_tts_is_400() -> None:
    async with v3_emulator() as emu, client(emu) as http:
        stream_id = await create(http, tts())
        response = await http.post(f"{BASE}/{stream_id}/text", json={"delta": "x"})
        error_of(response, 400, "invalid_parameter")


async def test_cancel_is_idempotent_and_closes_input() -> None:
    async with v3_emulator() as emu, client(emu) as http:
        stream_id = await create(http, text_stream("Hello"))
        first = await http.post(f"{BASE}/{stream_id}/cancel", json={})
        assert first.status_code == 200
        assert first.json() == {"data": {"stream_id": stream_id, "cancelled": True}}
        second = await http.post(f"{BASE}/{stream_id}/cancel")
        assert second.json() == {"data": {"stream_id": stream_id, "cancelled": False}}
        assert await status(http, stream_id) == {
            "stream_id": stream_id,
            "status": "completed",
            "end_reason": "cancelled",
        }
        response = await http.post(f"{BASE}/{stream_id}/text", json={"delta": "more"})
        error_of(response, 410, "stream_closed")
        events = await read_sse(http, stream_id)
        assert events[-1][0] == "end" and events[-1][1]["end_reason"] == "cancelled"


async def test_three_live_streams_per_key_then_429_with_retry_after() -> None:
    async with v3_emulator(retry_after=7) as emu, client(emu) as http:
        ids = [await create(http, text_stream()) for _ in range(3)]
        response = await http.post(BASE, json=tts())
        error_of(response, 429, "rate_limit_exceeded")
        assert response.headers["retry-after"] == "7"
        async with client(emu, OTHER_KEY) as other:  # the limit is per key
            await create(other, tts())
        await http.post(f"{BASE}/{ids[0]}/cancel")
        await create(http, tts())  # a slot is free again


async def test_emulator_wide_stream_limit_bounds_any_key_mode() -> None:
    realtime = RealtimeOptions(max_total_streams=2)
    async with Emulator(api_key=None, realtime=realtime) as emu:
        for key in ("a", "b"):
            async with client(emu, key) as http:
                await create(http, text_stream())
        async with client(emu, "c") as http:
            response = await http.post(BASE, json=tts())
            error_of(response, 429, "rate_limit_exceeded")
            assert "in all" in response.json()["error"]["message"]


async def test_idle_timeout_completes_text_stream() -> None:
    async with v3_emulator(idle_timeout=0.4) as emu, client(emu) as http:
        stream_id = await create(http, text_stream("Hi."))
        stream = stream_of(emu, stream_id)
        await stream.wait_ended()
        data = await status(http, stream_id)
        assert data == {"stream_id": stream_id, "status": "completed", "end_reason": "idle_timeout"}
        # Idle time counts from the end of speech: the seed was spoken in full.
        events = await read_sse(http, stream_id)
        assert [w["word"] for _, d in events[:-1] for w in d["words"]] == ["Hi", "."]
        error_of(
            await http.post(f"{BASE}/{stream_id}/text", json={"delta": "x"}), 410, "stream_closed"
        )


async def test_appends_keep_text_stream_alive_past_idle_timeout() -> None:
    async with v3_emulator(idle_timeout=1.0) as emu, client(emu) as http:
        stream_id = await create(http, text_stream("One"))
        stream = stream_of(emu, stream_id)
        await stream.wait_status(Status.STREAMING)
        for spoken, word in enumerate((" two", " three", " four", " five", " six"), start=1):
            # Wait until everything so far was spoken (the avatar idles), then append.
            while stream.words.count < spoken or stream.words._open:
                await asyncio.wait_for(stream.words._changed.wait(), 10)
            response = await http.post(f"{BASE}/{stream_id}/text", json={"delta": word})
            assert response.status_code == 202
        await http.post(f"{BASE}/{stream_id}/text", json={"delta": "", "final": True})
        assert await stream.wait_ended() is Status.COMPLETED
        assert stream.end_reason == "final_marker" and stream.words.count == 6
        assert stream.seconds > 1.0  # lived longer than the idle timeout


async def test_max_length_completes_stream() -> None:
    async with v3_emulator(max_length=0.6) as emu, client(emu) as http:
        stream_id = await create(http, tts("This text takes much longer than the limit to say."))
        await stream_of(emu, stream_id).wait_ended()
        data = await status(http, stream_id)
        assert data["status"] == "completed" and data["end_reason"] == "max_duration"


def test_cli_flags_set_v3_options() -> None:
    args = build_parser().parse_args(
        [
            "--v3-idle-timeout",
            "2",
            "--v3-max-length",
            "10",
            "--v3-segment-seconds",
            "0.5",
            "--v3-max-streams",
            "5",
            "--v3-max-total-streams",
            "7",
            "--v3-file-grace",
            "1",
        ]
    )
    assert options_from_args(args) == RealtimeOptions(
        max_streams=5,
        max_total_streams=7,
        idle_timeout=2.0,
        max_length=10.0,
        segment_seconds=0.5,
        file_grace=1.0,
    )
    assert options_from_args(build_parser().parse_args([])) == RealtimeOptions()


async def test_stream_shorter_than_a_segment_still_lists_its_hls_url() -> None:
    async with v3_emulator(end_linger=0.5) as emu, client(emu) as http:
        stream_id = await create(http, tts("Hi."))
        stream = stream_of(emu, stream_id)
        await stream.wait_status(Status.STREAMING)
        data = await status(http, stream_id)
        assert data["status"] == "streaming"
        playlist = (await http.get(data["hls_url"])).text
        assert playlist.count("#EXTINF:") == 1 and "#EXT-X-ENDLIST" in playlist
        assert await stream.wait_ended() is Status.COMPLETED
        assert "hls_url" not in await status(http, stream_id)


def test_options_are_validated() -> None:
    for bad in (
        {"max_streams": 0},
        {"segment_seconds": 0},
        {"idle_timeout": -1},
        {"file_grace": -1},
    ):
        with pytest.raises(ValueError):
            RealtimeOptions(**bad)  # type: ignore[arg-type]


async def test_shutdown_ends_open_word_streams_and_live_streams() -> None:
    async with v3_emulator() as emu, client(emu) as http:
        stream_id = await create(http, text_stream("Hello"))
        words = asyncio.create_task(read_sse(http, stream_id))
        stream = stream_of(emu, stream_id)
        await stream.wait_status(Status.STREAMING)
        await emu.close()
        events = await asyncio.wait_for(words, 10)
    assert events[-1] == (
        "end",
        {"stream_id": stream_id, "status": "completed", "end_reason": "cancelled",
         "word_count": stream.words.count},
    )  # fmt: skip
    assert stream.worker is not None and not stream.worker.alive


async def test_injected_faults_use_the_v3_envelope() -> None:
    async with v3_emulator() as emu, client(emu) as http:
        emu.faults.fail("realtime_create", 429, retry_after=2)
        response = await http.post(BASE, json=tts())
        error_of(response, 429, "rate_limit_exceeded")
        assert response.headers["retry-after"] == "2"
        assert emu.realtime.registry.streams == {}  # failed before the handler ran
        emu.faults.fail("realtime_cancel", 500, after=True)
        stream_id = await create(http, tts())
        error_of(await http.post(f"{BASE}/{stream_id}/cancel"), 500, "internal_error")
        assert stream_of(emu, stream_id).end_reason == "cancelled"  # the cancel happened
        emu.faults.fail("realtime_get", kind="bad_envelope")
        assert (await http.get(f"{BASE}/{stream_id}")).json() == {"data": "???"}


async def test_unexpected_failure_is_a_v3_500(monkeypatch: pytest.MonkeyPatch) -> None:
    async with v3_emulator() as emu, client(emu) as http:
        stream_id = await create(http, tts())

        def broken(origin: str) -> dict[str, object]:
            raise RuntimeError("boom")

        monkeypatch.setattr(stream_of(emu, stream_id), "as_data", broken)
        error = error_of(await http.get(f"{BASE}/{stream_id}"), 500, "internal_error")
        assert "boom" not in error["message"]
