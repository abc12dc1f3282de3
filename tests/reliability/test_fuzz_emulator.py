"""Fuzz the emulator's inputs: random bodies get 4xx error envelopes and the server stays up."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heygen_streaming.emulator.process import EmulatorProcess

from ._leaks import API_KEY

ENDPOINTS = [
    "new", "start", "ice", "task", "interrupt", "keep_alive", "stop", "list", "create_token",
]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
keys = st.sampled_from(
    [
        "session_id", "sdp", "type", "candidate", "sdpMid", "sdpMLineIndex", "text",
        "task_type", "task_mode", "quality", "avatar_name", "avatar_id", "voice", "voice_id",
        "rate", "emotion", "video_encoding", "version", "disable_idle_timeout",
        "activity_idle_timeout", "knowledge_base",
    ]
) | st.text(max_size=10)  # fmt: skip
shapes = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=14,
)


@pytest.fixture(scope="module")
def server(emulator_process: EmulatorProcess) -> Iterator[tuple[httpx.Client, str]]:
    with httpx.Client(
        base_url=emulator_process.base_url, headers={"X-Api-Key": API_KEY}, timeout=20.0
    ) as http:
        # One live session, so bodies naming it reach the deeper validation.
        resp = http.post("/v1/streaming.new", json={"quality": "low"})
        sid = resp.json()["data"]["session_id"]
        yield http, sid
        http.post("/v1/streaming.stop", json={"session_id": sid})
        assert emulator_process.proc is not None and emulator_process.proc.poll() is None
        assert http.post("/v1/streaming.list", json={}).json()["data"]["sessions"] == []


def _check(resp: httpx.Response, http: httpx.Client, endpoint: str) -> None:
    assert resp.status_code < 500, (resp.status_code, resp.text[:300])
    body = resp.json()  # always a JSON envelope, never a traceback page
    assert isinstance(body, dict)
    if resp.status_code >= 400:
        assert body.get("code") not in (None, 100) and isinstance(body.get("message"), str)
    elif endpoint == "create_token":  # its own captured envelope: {"error": null, "data"}
        assert body.get("error") is None and body["data"]["token"]
    else:
        assert body.get("code") == 100
        if endpoint == "new":  # a random body that happened to be valid: clean up
            sid = body["data"]["session_id"]
            http.post("/v1/streaming.stop", json={"session_id": sid})


FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
@FUZZ
@given(body=shapes, use_session=st.booleans())
def test_random_json_bodies_get_4xx_envelopes(
    server: tuple[httpx.Client, str], endpoint: str, body: Any, use_session: bool
) -> None:
    http, sid = server
    if use_session and isinstance(body, dict) and endpoint not in ("stop", "new"):
        body["session_id"] = sid
    resp = http.post(f"/v1/streaming.{endpoint}", content=json.dumps(body).encode(),
                     headers={"content-type": "application/json"})  # fmt: skip
    _check(resp, http, endpoint)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("endpoint", ["new", "start", "ice", "task"])
@FUZZ
@given(raw=st.binary(max_size=200), ctype=st.sampled_from(["application/json", "text/plain", ""]))
def test_random_bytes_get_4xx_envelopes(
    server: tuple[httpx.Client, str], endpoint: str, raw: bytes, ctype: str
) -> None:
    http, _ = server
    headers = {"content-type": ctype} if ctype else {}
    resp = http.post(f"/v1/streaming.{endpoint}", content=raw, headers=headers)
    _check(resp, http, endpoint)
