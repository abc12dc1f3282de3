"""Headless Chromium (Debian's package) driven by Playwright's async API.

`browser_page` runs Chromium on this machine (for pages without WebRTC, such as the HLS
one). Tests whose page runs WebRTC (libwebrtc ignores loopback) use `netns_emulator` and
`netns_page` instead: the emulator in a namespace ``ns_a`` (on a `NetnsLoop`), Chromium in
``ns_b`` behind the ``chromium_in_netns`` wrapper, Playwright outside; nothing touches the
machine's own interfaces.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from heygen_streaming.emulator import Emulator
from netns import NetnsLoop, VethPair, chromium_in_netns, netns_pair

T = TypeVar("T")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    # No --disable-features=WebRtcHideLocalIpsWithMdns: Chromium's default mDNS (.local)
    # host candidates must work, as for real users (the emulator resolves them in the
    # background and the peer-reflexive path connects meanwhile).
]


def chromium_path() -> str | None:
    """``$HEYGEN_CHROMIUM``, else ``/usr/bin/chromium``, else ``chromium`` on PATH."""
    for candidate in (os.environ.get("HEYGEN_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")


def _chromium() -> str:
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium not found (install Debian's chromium or set HEYGEN_CHROMIUM)")
    return path


async def _page(executable: str) -> AsyncIterator[Any]:
    async_api = pytest.importorskip("playwright.async_api")
    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page()
            messages: list[str] = []
            page.on("console", lambda msg: messages.append(msg.text))
            page.console_messages = messages
            yield page
        finally:
            await browser.close()


@pytest.fixture
async def browser_page() -> AsyncIterator[Any]:
    """A fresh page in headless Chromium on this machine; skipped without Chromium."""
    async for page in _page(_chromium()):
        yield page


@pytest.fixture
def net() -> Iterator[VethPair]:
    """``ns_a`` (the emulator, 10.99.0.1) and ``ns_b`` (Chromium, 10.99.0.2)."""
    with netns_pair() as pair:
        yield pair


class NetnsEmulator:
    """An in-process `Emulator` living in ``ns_a`` on its own loop: use it through these
    methods (its objects belong to that loop's thread)."""

    def __init__(self, loop: NetnsLoop, emulator: Emulator) -> None:
        self.loop = loop
        self.emulator = emulator
        self.base_url = emulator.base_url

    async def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:  # noqa: ASYNC109
        """Run ``coro`` on the emulator's loop (inside ``ns_a``)."""
        return await self.loop.arun(coro, timeout)

    async def call(self, function: Any, *args: Any) -> Any:
        """``function(emulator, *args)`` on the emulator's loop."""

        async def call() -> Any:
            return function(self.emulator, *args)

        return await self.loop.arun(call(), 10.0)

    async def wait_closed(self, session_id: str, within: float) -> None:
        await self.run(self.emulator.wait_closed(session_id, within=within), within + 5)

    async def session_ids(self) -> list[str]:
        return list(await self.call(lambda emu: [s.session_id for s in emu.sessions]))


@pytest.fixture
def netns_emulator(net: VethPair, api_key: str) -> Iterator[NetnsEmulator]:
    """A fresh emulator (frame stamps on) at ``http://10.99.0.1:<port>`` inside ``ns_a``."""
    with NetnsLoop(net.ns_a, name="browser-emulator") as loop:

        async def start() -> Emulator:
            emulator = Emulator(api_key=api_key, host=net.server_ip, port=0, stamp=True)
            await emulator.__aenter__()
            return emulator

        emulator = loop.run(start())
        try:
            yield NetnsEmulator(loop, emulator)
        finally:
            loop.run(emulator.__aexit__(None, None, None))


@pytest.fixture
async def netns_page(net: VethPair, tmp_path: Path) -> AsyncIterator[Any]:
    """A fresh page in headless Chromium running inside ``ns_b`` (Playwright outside)."""
    wrapper = chromium_in_netns(net.ns_b, tmp_path, chromium=_chromium())
    async for page in _page(str(wrapper)):
        yield page
