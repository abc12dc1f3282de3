"""Fixtures of the LiveAvatar tests with official clients: a namespace pair, the emulator in
``ns_a`` (on a `NetnsLoop`), a loop in ``ns_b`` for the plain HTTP/WebSocket calls a user's
backend makes, and the official ``livekit`` client in ``ns_b``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from heygen_streaming.emulator import Emulator
from netns import JsonLinesProcess, NetnsLoop, VethPair
from rooms.conftest import net, server_loop

__all__ = ["net", "server_loop"]  # the room tests' namespace pair and ns_a loop

from ._rest import KEY

CLIENT = Path(__file__).with_name("la_client.py")


@pytest.fixture(scope="module")
def emulator(net: VethPair, server_loop: NetnsLoop) -> Iterator[Emulator]:
    """The emulator at ``http://10.99.0.1:<port>`` inside ``ns_a``."""

    async def start() -> Emulator:
        emu = Emulator(api_key=KEY, host=net.server_ip, port=0)
        await emu.start()
        return emu

    emu = server_loop.run(start())
    try:
        yield emu
    finally:
        server_loop.run(emu.close())


@pytest.fixture(scope="module")
def backend(net: VethPair) -> Iterator[NetnsLoop]:
    """A loop in ``ns_b``: the user's backend (httpx, the LITE socket)."""
    with NetnsLoop(net.ns_b, name="la-backend") as loop:
        yield loop


@pytest.fixture
def la_client(net: VethPair) -> Iterator[JsonLinesProcess]:
    """The official ``livekit`` client in ``ns_b``, ready for commands."""
    with JsonLinesProcess([sys.executable, str(CLIENT)], ns=net.ns_b) as client:
        client.expect("ready", 30)
        yield client
