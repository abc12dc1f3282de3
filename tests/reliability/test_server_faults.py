"""Server-side faults: each ends in the documented typed error, within its deadline,
leaving no session on the emulator and no task, thread or socket behind."""

from __future__ import annotations

import socket
import time
from typing import Any

import httpx
import pytest

from heygen_streaming import (
    ConnectTimeout,
    SessionClosed,
    StreamingClient,
)
from heygen_streaming.emulator.process import EmulatorProcess

from ._leaks import API_KEY, Snapshot
from ._tamper import TamperTransport

WATCHDOG = 5.0  # Session default no-media watchdog (watchdog_timeout)


async def _no_sessions(base_url: str) -> None:
    async with StreamingClient(api_key=API_KEY, base_url=base_url) as client:
        assert await client.list_sessions() == []


@pytest.mark.timeout(60)
async def test_emulator_killed_mid_stream_raises_session_closed() -> None:
    before = Snapshot.take()
    with EmulatorProcess(API_KEY) as emu:
        async with StreamingClient(api_key=API_KEY, base_url=emu.base_url, timeout=5.0) as c:
            killed_at = 0.0
            with pytest.raises(SessionClosed):
                async with c.session(quality="low") as s:
                    frames = 0
                    async for _ in s.video():
                        frames += 1
                        if frames == 10:
                            emu.kill()
                            killed_at = time.monotonic()
            elapsed = time.monotonic() - killed_at
            assert killed_at and elapsed < WATCHDOG + 5.0, elapsed
    await before.assert_no_leaks(fd_slack=1)


def _closed_udp_port() -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


@pytest.mark.timeout(60)
async def test_unreachable_stun_and_turn(emulator_process: EmulatorProcess) -> None:
    port = _closed_udp_port()
    servers = [
        {"urls": [f"stun:127.0.0.1:{port}"]},
        {"urls": [f"turn:127.0.0.1:{port}?transport=udp"], "username": "u", "credential": "c"},
    ]

    def point_at_closed_port(body: Any) -> Any:
        data = body.get("data") or {}
        data["ice_servers"] = servers
        data["ice_servers2"] = servers
        return body

    before = Snapshot.take()
    transport = TamperTransport(rewrite={"streaming.new": point_at_closed_port})
    connect_timeout = 15.0
    async with (
        httpx.AsyncClient(transport=transport) as http,
        StreamingClient(api_key=API_KEY, base_url=emulator_process.base_url, http_client=http) as c,
    ):
        started = time.monotonic()
        try:
            async with c.session(quality="low", connect_timeout=connect_timeout) as s:
                async for _ in s.video():
                    break
            outcome = "connected"
        except ConnectTimeout:
            outcome = "ConnectTimeout"
        elapsed = time.monotonic() - started
    print(f"\nunreachable STUN/TURN: {outcome} after {elapsed:.1f} s")
    assert elapsed < connect_timeout + 3.0
    await _no_sessions(emulator_process.base_url)
    await before.assert_no_leaks(fd_slack=1)


@pytest.mark.timeout(60)
async def test_answer_never_applied_raises_connect_timeout(
    emulator_process: EmulatorProcess,
) -> None:
    before = Snapshot.take()
    transport = TamperTransport(swallow=frozenset({"streaming.start"}))
    connect_timeout = 3.0
    async with (
        httpx.AsyncClient(transport=transport) as http,
        StreamingClient(api_key=API_KEY, base_url=emulator_process.base_url, http_client=http) as c,
    ):
        started = time.monotonic()
        with pytest.raises(ConnectTimeout):
            async with c.session(quality="low", connect_timeout=connect_timeout):
                pytest.fail("connected without an applied answer")
        elapsed = time.monotonic() - started
    assert connect_timeout <= elapsed < connect_timeout + 3.0, elapsed
    assert "streaming.stop" in transport.calls
    await _no_sessions(emulator_process.base_url)
    await before.assert_no_leaks(fd_slack=1)
