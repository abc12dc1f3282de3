"""``heygen-streaming live`` speaks LiveAvatar's words: its help and its errors name its own
key, variables and service (not HeyGen's), a mistyped id does not stop ``live sessions stop``
from stopping the others, a connect that cannot work on a loopback-only machine says why,
and the official LiveKit client's teardown warnings stay off the terminal by default.

Only LiveAvatar's REST API is used here (no room is joined), so an emulator on loopback
serves; the sessions themselves are tested in ``tests/liveavatar_sdk``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import uuid
from collections.abc import Iterator

import httpx
import pytest

from _cli import KEY, assert_one_line_error, assert_usage_error, cli, serve_emulator
from heygen_streaming import ConnectTimeout
from heygen_streaming.cli import build_parser

DEAD_URL = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    """One emulator process shared by the tests of this module; yields its base URL."""
    yield from serve_emulator()


def la_env(**extra: str) -> dict[str, str]:
    """The environment without any HeyGen or LiveAvatar configuration, plus ``extra``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HEYGEN_", "LIVEAVATAR_"))}
    return {**clean, **extra}


def _live_help() -> str:
    import argparse

    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return " ".join(action.choices["live"].format_help().split())
    raise AssertionError("no subcommands")


def test_help_names_liveavatar_its_key_and_its_service() -> None:
    top = " ".join(build_parser().format_help().split())
    assert "LIVEAVATAR_API_KEY" in top and "`live`" in top
    assert "emulator of v1, Avatar Realtime and LiveAvatar" in top
    live = _live_help()
    assert "$LIVEAVATAR_API_KEY" in live and "https://api.liveavatar.com" in live
    assert "HEYGEN" not in live and "api.heygen.com" not in live


def test_live_with_a_base_url_and_no_key_names_the_flag() -> None:
    result = cli("live", "sessions", "list", env=la_env(LIVEAVATAR_BASE_URL=DEAD_URL))
    line = assert_usage_error(result)
    assert "--api-key" in line and "LIVEAVATAR_API_KEY" in line
    assert "api_key=" not in line and "token=" not in line


@pytest.mark.timeout(60)
def test_a_live_401_says_check_the_liveavatar_key(emulator: str) -> None:
    environ = la_env(LIVEAVATAR_BASE_URL=emulator, LIVEAVATAR_API_KEY="wrong-7c1d")
    line = assert_one_line_error(cli("live", "sessions", "list", env=environ))
    assert "check your key" in line and "$LIVEAVATAR_API_KEY" in line
    assert "HEYGEN" not in line and "api.heygen.com" not in line and "wrong-7c1d" not in line


def test_a_live_connection_error_names_the_liveavatar_base_url() -> None:
    environ = la_env(LIVEAVATAR_BASE_URL=DEAD_URL, LIVEAVATAR_API_KEY=KEY)
    line = assert_one_line_error(cli("live", "sessions", "list", env=environ))
    assert "--base-url" in line and "$LIVEAVATAR_BASE_URL" in line
    assert "HEYGEN" not in line and "api.heygen.com" not in line


def _started_session(url: str) -> str:
    async def start() -> str:
        async with httpx.AsyncClient(base_url=url) as http:
            avatars = await http.get("/v1/avatars/public", headers={"X-API-KEY": KEY})
            body = {"avatar_id": avatars.json()["data"]["results"][0]["id"], "mode": "LITE"}
            made = await http.post("/v1/sessions/token", headers={"X-API-KEY": KEY}, json=body)
            token = made.json()["data"]["session_token"]
            started = await http.post(
                "/v1/sessions/start", headers={"Authorization": f"Bearer {token}"}
            )
            return str(started.json()["data"]["session_id"])

    return asyncio.run(start())


@pytest.mark.timeout(60)
def test_live_sessions_stop_goes_past_an_unknown_id(emulator: str) -> None:
    environ = la_env(LIVEAVATAR_BASE_URL=emulator, LIVEAVATAR_API_KEY=KEY)
    real, unknown = _started_session(emulator), str(uuid.uuid4())
    result = cli("--json", "live", "sessions", "stop", unknown, real, env=environ)
    line = assert_one_line_error(result)
    assert f"no such session: {unknown}" in line
    assert json.loads(result.stdout) == {"stopped": [real], "not_found": [unknown]}
    listed = cli("--json", "live", "sessions", "list", env=environ)
    assert real not in [s["id"] for s in json.loads(listed.stdout)["sessions"]]


@pytest.mark.parametrize("interfaces", [["lo"], ["lo", "eth0"]])
def test_a_live_connect_timeout_says_when_only_loopback_is_there(
    interfaces: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from heygen_streaming.cli.errors import hint, one_line
    from heygen_streaming.cli.run import HEYGEN, LIVEAVATAR, Config

    monkeypatch.setattr(socket, "if_nameindex", lambda: list(enumerate(interfaces, 1)))
    exc = ConnectTimeout("no video within connect_timeout=30 s")
    config = Config(api_key=None, base_url=None, service=LIVEAVATAR)
    assert one_line(exc, config) == "no video within --connect-timeout 30 s"
    told = "interface other than loopback" in hint(exc, config)
    assert told is (interfaces == ["lo"])
    assert "loopback" not in hint(exc, Config(api_key=None, base_url=None, service=HEYGEN))


@pytest.mark.parametrize("interfaces", [["lo"], ["lo", "eth0"]])
def test_live_warns_before_connecting_when_only_loopback_is_there(
    interfaces: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from heygen_streaming.cli.live import loopback_warning

    monkeypatch.setattr(socket, "if_nameindex", lambda: list(enumerate(interfaces, 1)))
    warning = loopback_warning()
    assert (warning is not None and "will not connect" in warning) is (interfaces == ["lo"])


def test_the_livekit_clients_warnings_are_shown_only_when_asked() -> None:
    from heygen_streaming.cli import _setup_logging

    names = ("livekit", "heygen_streaming", "heygen_streaming.emulator", "aiortc", "aioice")
    before = {name: logging.getLogger(name).level for name in names}
    livekit = logging.getLogger("livekit")
    try:
        _setup_logging("error")  # the default
        assert livekit.getEffectiveLevel() == logging.ERROR
        _setup_logging("debug")  # -v, --debug
        assert livekit.getEffectiveLevel() == logging.WARNING
    finally:
        for name, level in before.items():
            logging.getLogger(name).setLevel(level)
