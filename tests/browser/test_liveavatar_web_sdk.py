"""Conformance: HeyGen's official LiveAvatar web SDK (`@heygen/liveavatar-web-sdk` 0.0.18),
unmodified, in headless Chromium, against the emulator.

The package is installed from npm into ``tests/browser/liveavatar_sdk/node_modules`` (once per
checkout) and bundled with esbuild. libwebrtc ignores loopback, so the emulator runs in
namespace ``ns_a`` and Chromium in ``ns_b`` (Playwright stays outside and drives it over a
pipe). The page has an app's own origin (every SDK call is cross-origin, with credentials);
the session token comes from a plain HTTP call, as a user's backend would make it. The SDK's
own ``start()``, ``repeat()``, ``interrupt()``, ``stop()`` and ``repeatAudio()`` run, and its
own events must fire.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import web

from browser._netns_chromium import netns_page
from browser._npm import bundle
from heygen_streaming.emulator import Emulator
from liveavatar_e2e._rest import KEY, session_token
from liveavatar_e2e.conftest import backend, emulator, net, server_loop
from netns import NetnsLoop, VethPair

__all__ = ["backend", "emulator", "net", "server_loop"]  # fixtures shared with liveavatar_e2e

pytestmark = [
    pytest.mark.browser,
    pytest.mark.netns,
    pytest.mark.timeout(180),
    pytest.mark.requires_tool("npm", package="npm"),
    pytest.mark.requires_tool("ip", package="iproute2"),
]

SDK_DIR = Path(__file__).parent / "liveavatar_sdk"
SDK_PACKAGE = "@heygen/liveavatar-web-sdk"
SDK_VERSION = "0.0.18"
APP_PAGE = "<!doctype html><html><body><p>An app using the LiveAvatar web SDK</p></body></html>"


@pytest.fixture(scope="module")
def sdk_bundle() -> str:
    """The SDK bundled as an IIFE that sets ``window.LiveAvatarSDK``; npm installs it once."""
    return bundle(SDK_DIR, SDK_PACKAGE, SDK_VERSION)


async def _app_server(host: str) -> tuple[str, web.AppRunner]:
    """An app's own web server (another port: another origin) serving a blank page."""

    async def index(_: web.Request) -> web.Response:
        return web.Response(text=APP_PAGE, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", index)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    return f"http://{host}:{runner.addresses[0][1]}", runner


@pytest.fixture
async def page(
    net: VethPair, tmp_path: Path, emulator: Emulator, server_loop: NetnsLoop, sdk_bundle: str
) -> AsyncIterator[Any]:
    """A page of an app's own origin in Chromium inside ``ns_b``, with the SDK loaded: every
    SDK call is cross-origin, with credentials, as from an app to api.liveavatar.com."""
    url, runner = await server_loop.arun(_app_server(net.server_ip))
    try:
        async with netns_page(net.ns_b, tmp_path) as page:
            await page.goto(url + "/")
            await page.add_script_tag(content=sdk_bundle)
            yield page
    finally:
        await server_loop.arun(runner.cleanup())


SETUP = """
([apiUrl, token]) => {
  const {LiveAvatarSession, SessionEvent, AgentEventsEnum} = window.LiveAvatarSDK;
  const t = window.t = {events: [], states: []};
  const s = t.session = new LiveAvatarSession(token, {apiUrl});
  s.on(SessionEvent.SESSION_STATE_CHANGED, (state) => t.states.push(state));
  s.on(SessionEvent.SESSION_DISCONNECTED,
       (reason) => t.events.push({type: "disconnected", reason}));
  s.on(SessionEvent.SESSION_STREAM_READY, () => {
    t.events.push({type: "stream_ready"});
    const video = t.video = document.createElement("video");
    video.autoplay = true; video.muted = true; video.playsInline = true;
    document.body.appendChild(video);
    s.attach(video);
  });
  for (const name of Object.values(AgentEventsEnum)) {
    s.on(name, (event) => t.events.push({...event, type: name}));
  }
  return {mode: s.mode, state: s.state};
}
"""
START = """async () => { await window.t.session.start(); return window.t.session.sessionId; }"""


def has(event_type: str, count: int = 1) -> str:
    return f"window.t.events.filter(e => e.type === {event_type!r}).length >= {count}"


def server_session(server_loop: NetnsLoop, emulator: Emulator, session_id: str) -> Any:
    return server_loop.call(emulator.liveavatar.registry.find, session_id)


async def test_full_start_repeat_interrupt_stop(
    page: Any, backend: NetnsLoop, server_loop: NetnsLoop, emulator: Emulator
) -> None:
    token = await backend.arun(session_token(emulator.base_url, "FULL"))
    assert await page.evaluate(SETUP, [emulator.base_url, token]) == {
        "mode": "FULL",  # read from the token's start_session_data
        "state": "INACTIVE",
    }
    session_id = await page.evaluate(START)  # waits for heygen + liveavatar-agent-<id>
    assert await page.evaluate("window.t.session.state") == "CONNECTED"
    await page.wait_for_function(has("stream_ready"), timeout=20_000)
    await page.wait_for_function(
        "window.t.video && window.t.video.videoWidth === 640", timeout=20_000
    )
    frames = await page.evaluate("window.t.video.getVideoPlaybackQuality().totalVideoFrames")
    await page.wait_for_function(
        f"window.t.video.getVideoPlaybackQuality().totalVideoFrames > {frames + 10}", timeout=10_000
    )

    event_id = await page.evaluate("window.t.session.repeat('Hello from the web SDK')")
    await page.wait_for_function(has("avatar.speak_ended"), timeout=20_000)
    events = await page.evaluate("window.t.events")
    started = next(e for e in events if e["type"] == "avatar.speak_started")
    assert started["source_event_id"] == event_id and started["session_id"] == session_id
    said = next(e for e in events if e["type"] == "avatar.transcription")
    assert said["text"] == "Hello from the web SDK"

    await page.evaluate("window.t.session.repeat('" + "A long sentence to be cut. " * 8 + "')")
    await page.wait_for_function(has("avatar.speak_started", 2), timeout=20_000)
    await page.evaluate("window.t.session.interrupt()")
    await page.wait_for_function(has("avatar.speak_ended", 2), timeout=3_000)  # not ~15 s

    await page.evaluate("window.t.session.stop()")
    await page.wait_for_function(has("disconnected"), timeout=10_000)
    disconnected = [
        e for e in await page.evaluate("window.t.events") if e["type"] == "disconnected"
    ]
    assert disconnected[0]["reason"] == "CLIENT_INITIATED"
    assert (await page.evaluate("window.t.states"))[-1] == "DISCONNECTED"
    session = server_session(server_loop, emulator, session_id)
    reason = await server_loop.arun(session.wait_closed(), 10)
    assert reason == "USER_CLOSED" and session.connected_at is not None


async def test_lite_repeat_audio(
    page: Any, backend: NetnsLoop, server_loop: NetnsLoop, emulator: Emulator
) -> None:
    token = await backend.arun(session_token(emulator.base_url, "LITE"))
    assert (await page.evaluate(SETUP, [emulator.base_url, token]))["mode"] == "LITE"
    session_id = await page.evaluate(START)
    t = np.arange(24_000) / 24_000  # one second, as base64 PCM s16le 24 kHz
    tone = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2").tobytes()
    event_id = await page.evaluate(
        "(audio) => window.t.session.repeatAudio(audio)", base64.b64encode(tone).decode()
    )
    assert event_id
    await page.wait_for_function(has("avatar.speak_ended"), timeout=20_000)
    kinds = [e["type"] for e in await page.evaluate("window.t.events")]
    assert kinds.index("avatar.speak_started") < kinds.index("avatar.speak_ended")
    session = server_session(server_loop, emulator, session_id)
    media = server_loop.call(emulator.liveavatar.media.media.get, session_id)
    assert media.player.samples_played >= 2 * 24_000  # the whole second played (at 48 kHz)
    await page.evaluate("window.t.session.stop()")
    assert await server_loop.arun(session.wait_closed(), 10) == "USER_CLOSED"


async def test_a_start_that_fails_before_connecting_frees_the_slot(
    page: Any, backend: NetnsLoop, server_loop: NetnsLoop, emulator: Emulator
) -> None:
    """The room refuses the join: ``start()`` fails, the SDK's cleanup calls
    ``/v1/sessions/stop`` before the room was ever connected; the emulator ends the session
    (and frees its slot) instead of billing it until the idle timeout."""
    token = await backend.arun(session_token(emulator.base_url, "FULL"))
    await page.evaluate(SETUP, [emulator.base_url, token])
    server_loop.call(emulator.faults.refuse_room_joins, None, 503)
    try:
        failure = await page.evaluate(
            "async () => { try { await window.t.session.start(); return null; }"
            " catch (e) { return String(e); } }"
        )
    finally:
        server_loop.call(emulator.faults.allow_room_joins, None)
    assert failure is not None
    await page.wait_for_function(has("disconnected"), timeout=10_000)
    reasons = [
        e["reason"] for e in await page.evaluate("window.t.events") if e["type"] == "disconnected"
    ]
    assert reasons[-1] == "SESSION_START_FAILED"  # (the room's own failure comes first)
    session_id = await page.evaluate("window.t.session.sessionId")
    session = server_session(server_loop, emulator, session_id)
    assert await server_loop.arun(session.wait_closed(), 10) == "USER_CLOSED"
    assert session.connected_at is None  # it never was
    live = server_loop.call(emulator.liveavatar.registry.live_count, KEY)
    assert live == 0
