"""The emulator's own LiveAvatar page (``/static/liveavatar.html``): a FULL session played
with the vendored ``livekit-client`` (no CDN), a text box that makes the avatar speak.

Emulator in namespace ``ns_a``, Chromium in ``ns_b`` (libwebrtc ignores loopback)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from browser._netns_chromium import netns_page
from heygen_streaming.emulator import Emulator
from liveavatar_e2e._rest import KEY
from liveavatar_e2e.conftest import emulator, net, server_loop
from netns import NetnsLoop, VethPair

__all__ = ["emulator", "net", "server_loop"]  # fixtures shared with liveavatar_e2e

pytestmark = [
    pytest.mark.browser,
    pytest.mark.netns,
    pytest.mark.timeout(120),
    pytest.mark.requires_tool("ip", package="iproute2"),
]


@pytest.fixture
async def page(net: VethPair, tmp_path: Path, emulator: Emulator) -> AsyncIterator[Any]:
    async with netns_page(net.ns_b, tmp_path) as page:
        yield page


def seen(event_type: str, count: int = 1) -> str:
    return f"window.lademo.events.filter(e => e.event_type === {event_type!r}).length >= {count}"


async def test_the_page_plays_a_full_session_and_speaks_the_text_box(
    page: Any, emulator: Emulator, server_loop: NetnsLoop
) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    await page.goto(emulator.base_url + "/static/liveavatar.html")
    assert await page.evaluate("window.LivekitClient.version") == "2.15.7"
    await page.fill("#apiKey", KEY)
    await page.dispatch_event("#apiKey", "change")
    await page.wait_for_function("document.querySelectorAll('#avatar option').length > 0")
    await page.select_option("#quality", "low")
    await page.click("#start")
    await page.wait_for_function("window.lademo.state === 'connected'", timeout=30_000)
    await page.wait_for_function(
        "document.getElementById('video').videoWidth === 640", timeout=20_000
    )
    await page.fill("#text", "Speak this from the page.")
    await page.click("#speak")
    await page.wait_for_function(seen("avatar.speak_ended"), timeout=20_000)
    said = await page.evaluate(
        "window.lademo.events.find(e => e.event_type === 'avatar.transcription').text"
    )
    assert said == "Speak this from the page."
    assert await page.text_content("#talking") == "silent"
    session_id = await page.evaluate("window.lademo.sessionId")
    await page.click("#stop")
    await page.wait_for_function("window.lademo.state === 'stopped'", timeout=10_000)
    session = server_loop.call(emulator.liveavatar.registry.find, session_id)
    assert await server_loop.arun(session.wait_closed(), 10) == "USER_CLOSED"
    assert await page.evaluate("window.lademo.errors") == []
    origin = emulator.base_url
    assert all(url.startswith((origin, "data:", "blob:")) for url in requests), requests
