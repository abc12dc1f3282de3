"""LiveAvatar's REST API on the emulator, over plain HTTP: envelopes, validation, auth,
limits, lifecycle and history (no media client: the rooms stay empty)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from heygen_streaming.emulator import Emulator
from heygen_streaming.emulator.liveavatar import LiveAvatarOptions

from ._liveavatar import (
    AVATAR_ID,
    PERSONA,
    bearer,
    claims,
    create_token,
    detail,
    failed,
    ok,
    start,
)

KEY = "la-key"
OTHER = "other-key"


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(api_key=KEY, extra_keys=[OTHER]) as emu:
        yield emu


@pytest.fixture
async def http(emu: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=emu.base_url, timeout=10) as client:
        yield client


async def custom(**options: Any) -> Emulator:
    return Emulator(api_key=KEY, extra_keys=[OTHER], liveavatar=LiveAvatarOptions(**options))


def key(k: str = KEY) -> dict[str, str]:
    return {"X-API-KEY": k}


# -- catalogue ----------------------------------------------------------------------------------
async def test_public_avatars_have_uuid_ids_and_the_first_one_works(
    http: httpx.AsyncClient,
) -> None:
    data = ok(await http.get("/v1/avatars/public", headers=key()))
    assert data["count"] == len(data["results"]) >= 1 and data["next"] is None
    first = data["results"][0]
    uuid.UUID(first["id"])
    assert {"name", "status", "default_voice", "preview_url", "is_1080p"} <= set(first)
    assert ok(await http.get(f"/v1/avatars/{first['id']}", headers=key())) == first
    failed(await http.get(f"/v1/avatars/{uuid.uuid4()}", headers=key()), 404)
    _, token = await create_token(http, KEY, avatar_id=first["id"])
    assert (await start(http, token))["session_id"]


async def test_voices_and_credits(http: httpx.AsyncClient) -> None:
    voices = ok(await http.get("/v1/voices", headers=key()))["results"]
    assert voices and ok(await http.get(f"/v1/voices/{voices[0]['id']}", headers=key()))
    failed(await http.get("/v1/voices/nope", headers=key()), 404)
    credits = ok(await http.get("/v1/users/credits", headers=key()))
    assert credits["credits_left"] == 1000 and credits["credits_used"] == 0


# -- token and start ------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["FULL", "LITE"])
async def test_token_then_start_answers_the_published_fields(
    http: httpx.AsyncClient, mode: str
) -> None:
    session_id, token = await create_token(http, KEY, mode=mode)
    data = claims(token)["start_session_data"]  # what the web SDK decodes
    assert data["mode"] == mode
    assert data.get("agent_type") == ("FULL" if mode == "FULL" else None)
    started = await start(http, token)
    assert set(started) == {
        "session_id",
        "livekit_url",
        "livekit_client_token",
        "livekit_agent_token",
        "max_session_duration",
        "ws_url",
    }
    assert started["session_id"] == session_id
    port = http.base_url.port
    assert started["livekit_url"] == f"ws://127.0.0.1:{port}"
    assert claims(started["livekit_client_token"])["video"]["room"] == session_id
    if mode == "LITE":
        assert started["ws_url"].startswith(f"ws://127.0.0.1:{port}/liveavatar/ws/{session_id}?")
    else:
        assert started["ws_url"] is None
    assert started["max_session_duration"] == 1200


async def test_urls_follow_the_host_the_caller_used(http: httpx.AsyncClient) -> None:
    _, token = await create_token(http, KEY, mode="LITE")
    headers = {**bearer(token), "Host": "10.99.7.7:4242"}
    started = ok(await http.post("/v1/sessions/start", headers=headers), 201)
    assert started["livekit_url"] == "ws://10.99.7.7:4242"
    assert started["ws_url"].startswith("ws://10.99.7.7:4242/liveavatar/ws/")


async def test_a_session_starts_once(http: httpx.AsyncClient) -> None:
    _, token = await create_token(http, KEY)
    await start(http, token)
    assert "already" in failed(await http.post("/v1/sessions/start", headers=bearer(token)), 400)
    ok(await http.post("/v1/sessions/stop", headers=bearer(token)))
    assert "ended" in failed(await http.post("/v1/sessions/start", headers=bearer(token)), 400)


async def test_requested_duration_and_sandbox(http: httpx.AsyncClient) -> None:
    _, token = await create_token(http, KEY, max_session_duration=90)
    assert (await start(http, token))["max_session_duration"] == 90
    _, token = await create_token(http, KEY, is_sandbox=True)
    assert (await start(http, token))["max_session_duration"] == 60


VALIDATION: list[tuple[str, dict[str, Any], str]] = [
    ("avatar_id missing", {"mode": "LITE"}, "avatar_id"),
    ("avatar_id not a uuid", {"avatar_id": "Wayne", "mode": "LITE"}, "avatar_id"),
    ("mode unknown", {"avatar_id": AVATAR_ID, "mode": "HALF"}, "mode"),
    (
        "persona and voice_agent",
        {"avatar_id": AVATAR_ID, **PERSONA, "voice_agent": {"id": "a"}},
        "",
    ),
    ("FULL with neither", {"avatar_id": AVATAR_ID, "mode": "FULL"}, ""),
    ("flat voice_id", {"avatar_id": AVATAR_ID, "voice_id": "v"}, ""),
    (
        "51 dynamic variables",
        {
            "avatar_id": AVATAR_ID,
            "mode": "LITE",
            "dynamic_variables": {f"k{i}": i for i in range(51)},
        },
        "dynamic_variables",
    ),
    (
        "variable name of 65",
        {"avatar_id": AVATAR_ID, "mode": "LITE", "dynamic_variables": {"k" * 65: 1}},
        "dynamic_variables",
    ),
    (
        "variable value of 1001",
        {
            "avatar_id": AVATAR_ID,
            **PERSONA,
            "voice_agent": None,
            "dynamic_variables": {"k": "v" * 1001},
        },
        "dynamic_variables",
    ),
    (
        "voice_agent variables",
        {"avatar_id": AVATAR_ID, "voice_agent": {"id": "a", "dynamic_variables": {"": 1}}},
        "voice_agent",
    ),
    (
        "quality unknown",
        {"avatar_id": AVATAR_ID, "mode": "LITE", "video_settings": {"quality": "4k"}},
        "video_settings",
    ),
    (
        "duration zero",
        {"avatar_id": AVATAR_ID, "mode": "LITE", "max_session_duration": 0},
        "max_session_duration",
    ),
]


@pytest.mark.parametrize(
    ("body", "field"), [c[1:] for c in VALIDATION], ids=[c[0] for c in VALIDATION]
)
async def test_token_validation_is_fastapi_422(
    http: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    entries = detail(await http.post("/v1/sessions/token", headers=key(), json=body))
    assert entries[0]["loc"][0] == "body"
    if field:
        assert field in entries[0]["loc"]


@pytest.mark.parametrize("raw", [b"{nope", b"[1]", b""])
async def test_a_body_that_is_not_an_object_is_422(http: httpx.AsyncClient, raw: bytes) -> None:
    response = await http.post(
        "/v1/sessions/token", headers={**key(), "Content-Type": "application/json"}, content=raw
    )
    detail(response)


async def test_unknown_avatar_is_404(http: httpx.AsyncClient) -> None:
    body = {"avatar_id": str(uuid.uuid4()), "mode": "LITE"}
    assert "Avatar" in failed(await http.post("/v1/sessions/token", headers=key(), json=body), 404)


# -- credentials ----------------------------------------------------------------------------------
async def test_wrong_or_misplaced_credentials(http: httpx.AsyncClient) -> None:
    body = {"avatar_id": AVATAR_ID, "mode": "LITE"}
    failed(await http.post("/v1/sessions/token", headers=key("wrong"), json=body), 401)
    failed(await http.post("/v1/sessions/token", json=body), 401)
    _, token = await create_token(http, KEY, mode="LITE")
    # A session token where an API key belongs, and the reverse: 403.
    failed(await http.post("/v1/sessions/token", headers=bearer(token), json=body), 403)
    failed(await http.get("/v1/sessions", params={"type": "active"}, headers=bearer(token)), 403)
    failed(await http.post("/v1/sessions/start", headers=key()), 403)
    failed(await http.post("/v1/sessions/keep-alive", headers=key()), 403)
    # Forged, truncated or foreign tokens: 401, and the message names no token.
    head, payload, sig = token.split(".")
    for bad in (f"{head}.{payload}.{sig[::-1]}", f"{head}.{payload}", "x" * 5000, "a.b.c"):
        message = failed(await http.post("/v1/sessions/start", headers=bearer(bad)), 401)
        assert token not in message and sig not in message
    async with (
        Emulator(api_key=KEY) as elsewhere,
        httpx.AsyncClient(base_url=elsewhere.base_url) as there,
    ):
        _, foreign = await create_token(there, KEY, mode="LITE")
    failed(await http.post("/v1/sessions/start", headers=bearer(foreign)), 401)


async def test_stop_with_a_key_needs_the_session_id_of_its_own_session(
    http: httpx.AsyncClient,
) -> None:
    session_id, token = await create_token(http, KEY)
    await start(http, token)
    failed(await http.post("/v1/sessions/stop", headers=key()), 400)
    failed(
        await http.post("/v1/sessions/stop", headers=key(OTHER), json={"session_id": session_id}),
        404,
    )
    data = ok(await http.post("/v1/sessions/stop", headers=key(), json={"session_id": session_id}))
    assert data["stop_reason"] == "USER_CLOSED"
    ok(await http.post("/v1/sessions/stop", headers=bearer(token)))  # idempotent


# -- limits ----------------------------------------------------------------------------------------
async def test_concurrency_limit_and_a_stop_before_connected_frees_the_slot() -> None:
    async with (
        await custom(max_sessions=1) as emu,
        httpx.AsyncClient(base_url=emu.base_url) as http,
    ):
        _, first = await create_token(http, KEY)
        await start(http, first)
        _, second = await create_token(http, KEY)
        message = failed(await http.post("/v1/sessions/start", headers=bearer(second)), 403)
        assert message == "Session concurrency limit reached"
        _, other = await create_token(http, OTHER)  # another key has its own slot
        await start(http, other)
        # Nobody ever joined the first session's room: stop it before it is connected.
        ok(await http.post("/v1/sessions/stop", headers=bearer(first)))
        await start(http, second)
        history = ok(await http.get("/v1/sessions", params={"type": "historic"}, headers=key()))
        assert [s["stop_reason"] for s in history["results"]] == ["USER_CLOSED"]


async def test_rate_limit_is_per_caller_and_endpoint() -> None:
    async with await custom(rate_limit=3) as emu, httpx.AsyncClient(base_url=emu.base_url) as http:
        for _ in range(10):  # within one 1-second window, or the next one
            answers = [await http.get("/v1/voices", headers=key()) for _ in range(4)]
            if answers[-1].status_code == 429:
                break
        limited = answers[-1]
        failed(limited, 429)
        assert 1 <= int(limited.headers["Retry-After"]) <= 1
        assert limited.headers["X-RateLimit-Reset"]
        ok(await http.get("/v1/voices", headers=key(OTHER)))  # another caller
        ok(await http.get("/v1/users/credits", headers=key()))  # another endpoint


async def test_not_enough_credits() -> None:
    async with await custom(credits=1.5) as emu, httpx.AsyncClient(base_url=emu.base_url) as http:
        _, token = await create_token(http, KEY)  # FULL holds 2 credits up front
        assert "credits" in failed(
            await http.post("/v1/sessions/start", headers=bearer(token)), 403
        )
        _, token = await create_token(http, KEY, mode="LITE")  # 1 credit a minute
        await start(http, token)


# -- lifecycle ------------------------------------------------------------------------------------
async def test_idle_timeout_keep_alive_and_history() -> None:
    async with (
        await custom(idle_timeout=0.6) as emu,
        httpx.AsyncClient(base_url=emu.base_url) as http,
    ):
        session_id, token = await create_token(http, KEY, mode="LITE")
        await start(http, token)
        session = emu.liveavatar.registry.sessions[session_id]
        for _ in range(3):
            await asyncio.sleep(0.3)  # real time passing, not synchronisation
            ok(await http.post("/v1/sessions/keep-alive", headers=bearer(token)))
        assert session.live
        assert await asyncio.wait_for(session.wait_closed(), 5) == "IDLE_TIMEOUT"
        failed(await http.post("/v1/sessions/keep-alive", headers=bearer(token)), 400)
        entry = ok(await http.get(f"/v1/sessions/{session_id}", headers=key()))
        assert entry["stop_reason"] == "IDLE_TIMEOUT" and entry["credits_consumed"] == 1.0


async def test_sandbox_sessions_end_by_themselves_for_free() -> None:
    async with (
        await custom(sandbox_duration=0.4) as emu,
        httpx.AsyncClient(base_url=emu.base_url) as http,
    ):
        session_id, token = await create_token(http, KEY, is_sandbox=True)
        await start(http, token)
        reason = await asyncio.wait_for(
            emu.liveavatar.registry.sessions[session_id].wait_closed(), 5
        )
        assert reason == "MAX_DURATION_REACHED"
        entry = ok(await http.get(f"/v1/sessions/{session_id}", headers=key()))
        assert entry["is_sandbox"] and entry["credits_consumed"] == 0


async def test_session_lists_paginate_and_show_credits(http: httpx.AsyncClient) -> None:
    for mode in ("FULL", "LITE", "FULL"):
        _, token = await create_token(http, KEY, mode=mode)
        await start(http, token)
        ok(await http.post("/v1/sessions/stop", headers=bearer(token)))
    _, live = await create_token(http, KEY, mode="LITE")
    await start(http, live)
    page = ok(
        await http.get("/v1/sessions", params={"type": "historic", "page_size": 2}, headers=key())
    )
    assert page["count"] == 3 and len(page["results"]) == 2 and page["previous"] is None
    rest = ok(await http.get(page["next"], headers=key()))
    assert len(rest["results"]) == 1 and rest["next"] is None
    every = page["results"] + rest["results"]
    assert sorted(s["credits_consumed"] for s in every) == [1.0, 2.0, 2.0]
    active = ok(await http.get("/v1/sessions", params={"type": "active"}, headers=key()))
    assert active["count"] == 1 and active["results"][0]["status"] == "STARTED"
    assert (
        ok(await http.get("/v1/sessions", params={"type": "active"}, headers=key(OTHER)))["count"]
        == 0
    )
    assert ok(await http.get("/v1/users/credits", headers=key()))["credits_used"] == 6.0


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({}, "type"),
        ({"type": "all"}, "type"),
        ({"type": "active", "page": 0}, "page"),
        ({"type": "active", "page_size": 101}, "page_size"),
    ],
)
async def test_list_query_validation(
    http: httpx.AsyncClient, params: dict[str, Any], loc: str
) -> None:
    (entry,) = detail(await http.get("/v1/sessions", params=params, headers=key()))
    assert entry["loc"] == ["query", loc]


async def test_transcript_of_a_session(http: httpx.AsyncClient) -> None:
    session_id, token = await create_token(http, KEY)
    await start(http, token)
    data = ok(await http.get(f"/v1/sessions/{session_id}/transcript", headers=bearer(token)))
    assert data == {"session_active": True, "transcript_data": [], "next_timestamp": None}
    failed(await http.get(f"/v1/sessions/{session_id}/transcript", headers=key(OTHER)), 404)


# -- faults ---------------------------------------------------------------------------------------
async def test_faults_cover_the_liveavatar_endpoints(
    emu: Emulator, http: httpx.AsyncClient
) -> None:
    emu.faults.fail("liveavatar_start", 503)
    _, token = await create_token(http, KEY)
    failed(await http.post("/v1/sessions/start", headers=bearer(token)), 503)
    await start(http, token)  # consumed once
    emu.faults.fail("liveavatar_token", kind="error_code")
    body = {"avatar_id": AVATAR_ID, "mode": "LITE"}
    response = await http.post("/v1/sessions/token", headers=key(), json=body)
    assert response.status_code == 200 and response.json()["code"] != 1000
    emu.faults.fail("liveavatar_voices", kind="disconnect")  # no status needed
    with pytest.raises(httpx.HTTPError):
        await http.get("/v1/voices", headers=key())


def test_an_unknown_fault_name_raises_with_the_valid_names() -> None:
    emu = Emulator()
    with pytest.raises(ValueError, match="unknown endpoint 'speak'") as raised:
        emu.faults.fail("speak", 500)
    names = str(raised.value)
    assert "liveavatar_start" in names and "realtime_create" in names and "new" in names
    with pytest.raises(ValueError, match="unknown endpoint"):
        emu.faults.delay("liveavatar_typo", 1.0)
    emu.faults.fail("streaming.new", 500)  # v1's full name still works
    emu.faults.fail("*", 500)


async def test_cross_origin_calls_may_carry_credentials(http: httpx.AsyncClient) -> None:
    """The web SDK fetches with ``credentials: "include"``: the origin is named, not ``*``."""
    origin = {"Origin": "http://app.example:3000"}
    preflight = await http.options(
        "/v1/sessions/start",
        headers={**origin, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"},
    )  # fmt: skip
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == origin["Origin"]
    assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
    answer = await http.get("/v1/avatars/public", headers={**origin, **key()})
    assert answer.headers["Access-Control-Allow-Origin"] == origin["Origin"]
    assert answer.headers["Access-Control-Allow-Credentials"] == "true"
    v1 = await http.get("/v1/streaming.list", headers={**origin, **key()})
    assert v1.headers["Access-Control-Allow-Origin"] == "*"  # v1 unchanged
