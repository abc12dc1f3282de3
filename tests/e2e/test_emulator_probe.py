"""The emulator says what it is (a header on every answer, ``GET /emulator``) and can be
reset to a fresh state between tests (every API's sessions and streams ended)."""

from __future__ import annotations

from importlib import metadata

import httpx
import pytest

from heygen_streaming.emulator import Emulator
from heygen_streaming.emulator.liveavatar.catalog import AVATARS, VOICES
from heygen_streaming.emulator.v3 import Status

from ._v3util import BASE, KEY, client, create, stream_of, text_stream, tts, v3_emulator

pytestmark = pytest.mark.timeout(60)
HEADER = "x-heygen-emulator"
VERSION = metadata.version("heygen-streaming")


async def test_every_answer_says_it_comes_from_the_emulator() -> None:
    async with v3_emulator() as emu, client(emu) as http:
        stream_id = await create(http, tts("Hi."))
        stream = stream_of(emu, stream_id)
        await stream.wait_status(Status.STREAMING)
        emu.faults.fail("realtime_get", 503)
        answers = {
            "v3 created": await http.post(BASE, json=tts("Again.")),
            "v3 injected 503": await http.get(f"{BASE}/{stream_id}"),
            "v3 unknown stream": await http.get(f"{BASE}/nope"),
            "v3 no key": await http.get(f"{BASE}/{stream_id}", headers={"x-api-key": ""}),
            "v1 list": await http.get("/v1/streaming.list"),
            "v1 no key": await http.post("/v1/streaming.new", headers={"x-api-key": "bad"}),
            "unknown path": await http.get("/nope"),
            "page": await http.get("/"),
            "preflight": await http.options(BASE, headers={"Origin": "http://127.0.0.1:1"}),
            "playlist": await http.get(emu.base_url + stream.hls_path()),
            "probe": await http.get("/emulator", headers={"x-api-key": ""}),
        }
        async with http.stream("GET", f"{BASE}/{stream_id}/words") as words:  # prepared early
            answers["words (SSE)"] = words
        missing = {name: r.status_code for name, r in answers.items() if HEADER not in r.headers}
        assert missing == {}
        assert {r.headers[HEADER] for r in answers.values()} == {VERSION}
        assert HEADER in answers["v3 created"].headers["access-control-expose-headers"].lower()
        assert [answers[n].status_code for n in ("v3 injected 503", "v1 no key")] == [503, 401]


async def test_probe_describes_the_emulator_and_its_v3_defaults() -> None:
    async with v3_emulator(max_streams=2) as emu, httpx.AsyncClient(base_url=emu.base_url) as http:
        probe = await http.get("/emulator")  # no credential needed
        assert probe.status_code == 200
        assert probe.headers["content-type"].startswith("application/json")
        assert probe.json() == {
            "emulator": "heygen-streaming",
            "version": VERSION,
            "auth": "api_key",
            "apis": {
                "v1": {},
                "v3": {
                    "path": "/v3/avatar-realtime",
                    "avatar_id": "emulator-avatar",
                    "voice_id": "emulator-voice",
                    "max_streams": 2,
                    "audio_urls": False,
                },
                "liveavatar": {
                    "avatar_id": AVATARS[0].id,
                    "voice_id": VOICES[0].id,
                    "max_sessions": emu.liveavatar.registry.max_sessions,
                },
            },
        }
        # The announced ids work as they are.
        defaults = probe.json()["apis"]["v3"]
        body = tts(avatar_id=defaults["avatar_id"], voice_id=defaults["voice_id"])
        created = await http.post(BASE, json=body, headers={"x-api-key": KEY})
        assert created.status_code == 201
    async with Emulator(api_key=None) as emu, httpx.AsyncClient(base_url=emu.base_url) as http:
        assert (await http.get("/emulator")).json()["auth"] == "any_key"


async def test_reset_ends_every_session_and_stream_of_every_key() -> None:
    async with v3_emulator() as emu, client(emu) as http:
        v1 = await http.post("/v1/streaming.new", json={"quality": "low"})
        assert v1.json()["code"] == 100
        streams = [stream_of(emu, await create(http, text_stream())) for _ in range(3)]
        async with client(emu, "v3-other-key") as other:
            streams.append(stream_of(emu, await create(other, text_stream())))
        await streams[0].wait_status(Status.STREAMING)
        emu.faults.fail("realtime_create", 500, times=5)

        assert await emu.reset() == 5  # 1 session, 4 streams
        assert emu.sessions == []
        for stream in streams:
            assert await stream.wait_ended() is Status.COMPLETED
            assert stream.end_reason == "cancelled"
        # The key's 3 slots are free and no fault is left.
        for _ in range(3):
            await create(http, text_stream())
        assert await emu.reset() == 3
        assert await emu.reset() == 0


async def test_reset_ends_liveavatar_sessions_and_forgets_their_history() -> None:
    async with v3_emulator() as emu, client(emu) as http:
        body = {"avatar_id": AVATARS[0].id, "mode": "LITE"}
        tokens = []
        for _ in range(2):
            made = await http.post("/v1/sessions/token", json=body)
            assert made.status_code == 200, made.text
            tokens.append(made.json()["data"]["session_token"])
        started = await http.post(
            "/v1/sessions/start", headers={"authorization": f"Bearer {tokens[0]}", "x-api-key": ""}
        )
        assert started.status_code == 201, started.text
        assert await emu.reset() == 2  # one started, one waiting for its start
        active = await http.get("/v1/sessions", params={"type": "active"})
        historic = await http.get("/v1/sessions", params={"type": "historic"})
        assert active.json()["data"]["results"] == []
        assert historic.json()["data"]["results"] == []
        assert await emu.reset() == 0
