"""Typed options and credentials: bad values fail before any request, never quoting a key."""

from __future__ import annotations

import json
from typing import Any

import pytest
import respx

from heygen_streaming import ConfigurationError, StreamingClient, VoiceSettings
from heygen_streaming._v1.options import MAX_TEXT_LENGTH

from .conftest import BASE, ok


@pytest.fixture
def new_route(api: respx.MockRouter) -> respx.Route:
    return api.post("/v1/streaming.new").respond(200, json=ok({"session_id": "s"}))


@pytest.fixture
def task_route(api: respx.MockRouter) -> respx.Route:
    return api.post("/v1/streaming.task").respond(200, json=ok({"task_id": "t"}))


def test_configuration_error_is_a_value_error() -> None:
    assert issubclass(ConfigurationError, ValueError)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"quality": "ultra"}, "quality"),
        ({"quality": 3}, "quality"),
        ({"voice": 123}, "voice"),
        ({"voice": {"voice_id": "v", "rate": 3.0}}, "rate"),
        ({"voice": {"voice_id": "v", "emotion": "Angry"}}, "emotion"),
        ({"video_encoding": "AV1"}, "video_encoding"),
        ({"activity_idle_timeout": 10}, "activity_idle_timeout"),
        ({"activity_idle_timeout": 3601}, "activity_idle_timeout"),
        ({"activity_idle_timeout": 60.5}, "activity_idle_timeout"),
        ({"disable_idle_timeout": "yes"}, "disable_idle_timeout"),
        ({"avatar": 7}, "avatar"),
        ({"knowledge_base": ["x"]}, "knowledge_base"),
        ({"extra_body": {"x": object()}}, "extra_body"),
        ({"extra_body": ["version", "v2"]}, "extra_body"),
    ],
)
async def test_new_session_bad_values_fail_before_any_request(
    client: StreamingClient, new_route: respx.Route, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match):
        await client.new_session(**kwargs)
    with pytest.raises(ConfigurationError, match=match):
        client.session(**kwargs)  # checked when the session is made, not when it connects
    assert new_route.call_count == 0


async def test_unknown_options_are_type_errors(
    client: StreamingClient, new_route: respx.Route
) -> None:
    with pytest.raises(TypeError, match="watchdog_timout"):
        client.session(watchdog_timout=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="custom_flag"):
        await client.new_session(custom_flag="yes")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        await client.send_task("s", "hi", interrupt=True)  # type: ignore[call-arg]
    assert new_route.call_count == 0


async def test_extra_body_is_the_only_pass_through(
    client: StreamingClient, new_route: respx.Route, task_route: respx.Route
) -> None:
    await client.new_session(
        avatar="a",
        voice=VoiceSettings(voice_id="v", emotion="Soothing"),
        extra_body={"version": "v1", "stt_settings": {"provider": "deepgram"}},
    )
    assert json.loads(new_route.calls.last.request.content) == {
        "quality": "high",
        "avatar_name": "a",
        "voice": {"voice_id": "v", "emotion": "Soothing"},
        "version": "v1",
        "stt_settings": {"provider": "deepgram"},
    }
    await client.send_task("s", "hi", extra_body={"language": "en"})
    assert json.loads(task_route.calls.last.request.content)["language"] == "en"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"connect_timeout": 0}, "connect_timeout"),
        ({"connect_timeout": None}, "connect_timeout"),
        ({"stop_timeout": -1}, "stop_timeout"),
        ({"watchdog_timeout": 0}, "watchdog_timeout"),
        ({"keep_alive_interval": "5"}, "keep_alive_interval"),
        ({"video_capacity": 0}, "video_capacity"),
        ({"audio_capacity": 2.5}, "audio_capacity"),
        ({"ice_servers": "stun:127.0.0.1:3478"}, "ice_servers"),
        ({"ice_servers": [{"urls": 5}]}, r"ice_servers\[0\]"),
        ({"ice_servers": [{"urls": "stun:127.0.0.1"}, {"urls": "stun:[::1"}]}, r"ice_servers\[1\]"),
        ({"ice_servers": [{"urls": ["turn:"], "credential": "s3cret"}]}, r"ice_servers\[0\]"),
    ],
)
def test_session_level_options_checked(
    client: StreamingClient, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match) as info:
        client.session(**kwargs)
    assert "s3cret" not in str(info.value)  # an ICE credential is never quoted


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"text": ""}, "empty"),
        ({"text": " \n\t "}, "empty"),
        ({"text": "x" * (MAX_TEXT_LENGTH + 1)}, str(MAX_TEXT_LENGTH)),
        ({"text": None}, "string"),
        ({"text": "hi", "task_type": "chatt"}, "task_type"),
        ({"text": "hi", "task_mode": "later"}, "task_mode"),
    ],
)
async def test_send_task_bad_values_fail_before_any_request(
    client: StreamingClient, task_route: respx.Route, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match):
        await client.send_task("s", **kwargs)
    assert task_route.call_count == 0


async def test_longest_text_is_sent(client: StreamingClient, task_route: respx.Route) -> None:
    await client.send_task("s", "x" * MAX_TEXT_LENGTH)
    assert task_route.call_count == 1


# -- credentials ------------------------------------------------------------------------------

KEY = "sk-CRED-7d1e"


@pytest.mark.parametrize("padded", [f"{KEY}\r\n", f"{KEY}\n", f"  {KEY}\t"])
async def test_surrounding_whitespace_is_stripped(
    api: respx.MockRouter, padded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    route = api.post("/v1/streaming.keep_alive").respond(200, json=ok(None))
    async with StreamingClient(api_key=padded, base_url=BASE) as c:
        await c.keep_alive("s")
    assert route.calls.last.request.headers["x-api-key"] == KEY
    monkeypatch.setenv("HEYGEN_API_KEY", padded)  # a CRLF .env file
    async with StreamingClient(base_url=BASE) as c:
        await c.keep_alive("s")
    assert route.calls.last.request.headers["x-api-key"] == KEY
    async with StreamingClient(token=padded, base_url=BASE) as c:
        await c.keep_alive("s")
    assert route.calls.last.request.headers["authorization"] == f"Bearer {KEY}"


BAD_KEYS = [
    f"{KEY}\r\nX-Evil: 1",
    f"sk-CRED-\u00e9t\u00e9-{KEY}",
    f"{KEY} two",
    f"{KEY}\x00",
    "\u2003",
]


@pytest.mark.parametrize(
    ("bad", "how"),
    [
        (bad, how)
        for bad in BAD_KEYS
        for how in ("api_key", "token", "env")
        if not (how == "env" and "\x00" in bad)  # an environment variable cannot hold NUL
    ],
)
def test_bad_credentials_rejected_without_quoting(
    bad: str, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    kwargs: dict[str, Any] = {"base_url": BASE}
    if how == "env":
        monkeypatch.setenv("HEYGEN_API_KEY", bad)
    else:
        kwargs[how] = bad
    with pytest.raises(ConfigurationError) as info:
        StreamingClient(**kwargs)
    err = info.value
    for text in (str(err), repr(err), repr(err.args)):
        assert "CRED" not in text and (not bad.strip() or bad.strip() not in text)
    assert err.__cause__ is None and err.__context__ is None
    if how == "env":
        assert "HEYGEN_API_KEY" in str(err)
