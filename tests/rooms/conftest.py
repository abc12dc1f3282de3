"""Fixtures of the room tests that run the official LiveKit client: a namespace pair, the
room server in ``ns_a`` (on a `NetnsLoop`), the client script in ``ns_b``."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from netns import JsonLinesProcess, NetnsLoop, VethPair, netns_pair

from ._server import RoomHost

CLIENT = Path(__file__).with_name("lk_client.py")
_names = itertools.count(1)


@pytest.fixture(scope="module")
def net() -> Iterator[VethPair]:
    with netns_pair() as pair:
        yield pair


@pytest.fixture(scope="module")
def server_loop(net: VethPair) -> Iterator[NetnsLoop]:
    with NetnsLoop(net.ns_a, name="room-server") as loop:
        yield loop


@pytest.fixture(scope="module")
def host(
    request: pytest.FixtureRequest, net: VethPair, server_loop: NetnsLoop
) -> Iterator[RoomHost]:
    """A `RoomServer` served at ``ws://10.99.0.1:<port>`` inside ``ns_a`` (its options: the
    test module's ``ROOM_SERVER_OPTIONS``, if any)."""
    options = getattr(request.module, "ROOM_SERVER_OPTIONS", {})

    async def start() -> RoomHost:
        host = RoomHost(**options)
        await host.start(net.server_ip)
        return host

    host = server_loop.run(start())
    try:
        yield host
    finally:
        server_loop.run(host.stop())


@pytest.fixture
def room_name() -> str:
    return f"room-{next(_names)}"


@pytest.fixture
def lk_client(net: VethPair) -> Iterator[JsonLinesProcess]:
    """The official ``livekit`` client in ``ns_b``, ready for commands."""
    with JsonLinesProcess([sys.executable, str(CLIENT)], ns=net.ns_b) as client:
        client.expect("ready", 30)
        yield client
