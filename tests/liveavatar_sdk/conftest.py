"""Fixtures of the LiveAvatar SDK tests: the SDK (and so the official ``livekit`` client)
in ``ns_b``, the emulator in ``ns_a``.

libwebrtc ignores loopback, so the SDK's sessions run inside a namespace. The livekit
client's native runtime is one per process and its threads stay in the namespace of the
thread that started it: so this suite starts it once, from the SDK loop inside ``ns_b``
of ONE namespace pair kept for the whole run (`sdk`, session scope), and checks that every
native thread is there. Nothing else in this process may use ``livekit.rtc`` outside
that loop (the other LiveKit tests run the client in child processes). Each test module
gets its own emulator (`emulator`, module scope) in ``ns_a``, with the module's
``EMULATOR_OPTIONS`` / ``LIVEAVATAR_OPTIONS``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import hypothesis  # noqa: F401  (see below)
import pytest

from heygen_streaming.emulator import Emulator
from heygen_streaming.emulator.liveavatar import LiveAvatarOptions
from heygen_streaming.emulator.liveavatar.catalog import AVATARS
from netns import NetnsLoop, VethPair, netns_pair

# hypothesis is imported here, at collection, on purpose: its pytest plugin imports it
# lazily at the terminal summary, and after a session cancelled mid-start that late import
# failed in pytest's assertion rewriting with CPython 3.11.7's "SystemError: AST
# constructor recursion depth mismatch" (only the main thread compiled; not understood).

KEY = "la-sdk-key"
AVATAR = AVATARS[0].id
T = TypeVar("T")

pytestmark = [pytest.mark.netns, pytest.mark.requires_tool("ip", package="iproute2")]


@dataclass
class Sdk:
    """The SDK's side: a loop inside ``ns_b`` (run coroutines there with `run`)."""

    net: VethPair
    loop: NetnsLoop

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return self.loop.run(coro, timeout)


@dataclass
class Emu:
    """The emulator in ``ns_a`` and the loop it runs on (faults go through `call`/`run`)."""

    emulator: Emulator
    loop: NetnsLoop

    @property
    def base_url(self) -> str:
        return self.emulator.base_url

    @property
    def faults(self) -> Any:
        return self.emulator.faults

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return self.loop.run(coro, timeout)

    def call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        return self.loop.call(functools.partial(function, *args, **kwargs))


def _native_threads_outside(ns: str) -> list[str]:
    """Threads of this process not in ``ns`` whose names are livekit's native ones."""
    inode = os.stat(f"/run/netns/{ns}").st_ino
    native = ("tokio", "network_thread", "worker_thread", "signaling", "livekit", "rtc-")
    outside = []
    for tid in os.listdir("/proc/self/task"):
        try:
            name = open(f"/proc/self/task/{tid}/comm").read().strip()  # noqa: SIM115
            where = os.stat(f"/proc/self/task/{tid}/ns/net").st_ino
        except OSError:
            continue
        if name.startswith(native) and where != inode:
            outside.append(name)
    return outside


@pytest.fixture(scope="session")
def sdk() -> Iterator[Sdk]:
    with netns_pair() as net, NetnsLoop(net.ns_b, name="la-sdk") as loop:

        async def start_native_runtime() -> None:
            from livekit import rtc

            frame = rtc.VideoFrame(2, 2, rtc.VideoBufferType.RGBA, bytearray(16))
            frame.convert(rtc.VideoBufferType.I420)

        loop.run(start_native_runtime())
        outside = _native_threads_outside(net.ns_b)
        assert not outside, (
            f"livekit's native threads {outside} run outside the test namespace: something "
            "in this process used livekit.rtc before the LiveAvatar SDK tests"
        )
        yield Sdk(net, loop)

        async def settle() -> None:  # no room may still connect when the process exits
            from heygen_streaming._liveavatar.room import rooms_left

            assert await rooms_left(30.0), "a room connect given up never ended"

        loop.run(settle(), 40)


@pytest.fixture(scope="module")
def emu(request: pytest.FixtureRequest, sdk: Sdk) -> Iterator[Emu]:
    options = dict(getattr(request.module, "EMULATOR_OPTIONS", {}))
    la = LiveAvatarOptions(**getattr(request.module, "LIVEAVATAR_OPTIONS", {}))
    with NetnsLoop(sdk.net.ns_a, name="la-emulator") as loop:

        async def start() -> Emulator:
            emulator = Emulator(
                api_key=KEY, host=sdk.net.server_ip, port=0, liveavatar=la, **options
            )
            await emulator.start()
            return emulator

        emulator = loop.run(start())
        try:
            yield Emu(emulator, loop)
        finally:
            loop.run(emulator.close())
