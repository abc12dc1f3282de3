"""Conformance: HeyGen's own v1 JS SDK (`@heygen/streaming-avatar` 1.0.16), unmodified, in Chromium.

The published package is installed from npm into ``tests/browser/jssdk/node_modules`` (once per
checkout) and bundled with esbuild; the page then runs the SDK's own ``createStartAvatar`` /
``speak`` / ``interrupt`` / ``stopAvatar`` against the emulator. This is the test that proves the
emulator speaks the wire the real service spoke, not the wire our Python SDK happens to expect:
SDK 1.0.16 only dispatches talking events that arrive as *binary* data-channel messages, and it
authenticates with a ``streaming.create_token`` Bearer token.

libwebrtc ignores loopback: the emulator runs in a network namespace and Chromium in another
(``netns_emulator``, ``netns_page``: see ``conftest.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from browser._npm import bundle

pytestmark = [
    pytest.mark.browser,
    pytest.mark.netns,
    pytest.mark.timeout(180),
    pytest.mark.requires_tool("npm", package="npm"),
    pytest.mark.requires_tool("ip", package="iproute2"),
]

JSSDK_DIR = Path(__file__).parent / "jssdk"
SDK_PACKAGE = "@heygen/streaming-avatar"
SDK_VERSION = "1.0.16"


@pytest.fixture(scope="module")
def jssdk_bundle() -> str:
    """The SDK bundled as an IIFE that sets ``window.HeyGenSDK``; npm installs it on first use."""
    return bundle(JSSDK_DIR, SDK_PACKAGE, SDK_VERSION)


START = """
async ([base, token]) => {
  const {Configuration, StreamingAvatarApi} = window.HeyGenSDK;
  const t = window.t = {events: [], debug: [], levels: []};
  const api = new StreamingAvatarApi(new Configuration({basePath: base, accessToken: token}));
  t.api = api;
  for (const name of ["avatar_start_talking", "avatar_stop_talking"]) {
    api.addEventHandler(name, (detail) => t.events.push(detail));
  }
  const data = await api.createStartAvatar(
    {newSessionRequest: {quality: "low", avatarName: "", voice: {voiceId: ""}}},
    (line) => t.debug.push(String(line)));
  if (!data) throw new Error("createStartAvatar failed: " + t.debug.join(" | "));
  t.sessionId = data.sessionId;
  t.iceServers = data.iceServers2;
  const video = document.createElement("video");
  video.autoplay = true; video.muted = true; video.playsInline = true;
  video.srcObject = api.mediaStream;
  document.body.appendChild(video);
  t.video = video;
  // Loudness of what the avatar says, sampled every 20 ms from the SDK's own MediaStream.
  const ctx = new AudioContext();
  await ctx.resume();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 1024;
  ctx.createMediaStreamSource(api.mediaStream).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  setInterval(() => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const s of samples) sum += s * s;
    t.levels.push(Math.sqrt(sum / samples.length));
  }, 20);
  return {sessionId: data.sessionId, iceServers: data.iceServers2};
}
"""

# The last `n` loudness samples are all above / below a threshold.
LOUD = "(n) => window.t.levels.length >= n && window.t.levels.slice(-n).every(v => v > 0.01)"
QUIET = "(n) => window.t.levels.length >= n && window.t.levels.slice(-n).every(v => v < 0.002)"


async def _create_token(base_url: str, api_key: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        return await http.post(
            "/v1/streaming.create_token", headers={"X-Api-Key": api_key}, json={}
        )


async def test_heygen_js_sdk_plays_talks_interrupts_and_stops(
    netns_emulator: Any, api_key: str, netns_page: Any, jssdk_bundle: str
) -> None:
    emulator, page = netns_emulator, netns_page
    # From inside the emulator's namespace (the test's own has no route to it).
    reply = await emulator.run(_create_token(emulator.base_url, api_key))
    assert reply.status_code == 200
    body = reply.json()
    assert body["error"] is None  # the captured create_token envelope
    token = body["data"]["token"]

    # An opaque origin: every call the SDK makes goes through a CORS preflight.
    await page.set_content("<html><body><p>HeyGen JS SDK 1.0.16</p></body></html>")
    await page.add_script_tag(content=jssdk_bundle)
    started = await page.evaluate(START, [emulator.base_url, token])
    session_id = started["sessionId"]
    # The SDK built its RTCPeerConnection from ice_servers2: only the emulator is listed.
    assert started["iceServers"], "the SDK reads ice_servers2; an empty list means public STUN"
    server_ip = emulator.base_url.split("//", 1)[1].rsplit(":", 1)[0]
    for server in started["iceServers"]:
        urls = server["urls"] if isinstance(server["urls"], list) else [server["urls"]]
        assert all(url.split(":")[1] == server_ip for url in urls), urls

    # Video plays.
    await page.wait_for_function("window.t.video.videoWidth > 0", timeout=30_000)
    assert await page.evaluate("window.t.video.videoWidth") == 640
    frames_before = await page.evaluate("window.t.video.getVideoPlaybackQuality().totalVideoFrames")
    await page.wait_for_function(
        f"window.t.video.getVideoPlaybackQuality().totalVideoFrames > {frames_before + 10}",
        timeout=10_000,
    )
    await page.wait_for_function(QUIET, arg=10, timeout=10_000)

    # speak: the SDK's own handlers receive avatar_start_talking for this task, and it is heard.
    task = await page.evaluate(
        """async ([id, text]) => {
             const r = await window.t.api.speak({taskRequest: {sessionId: id, text}});
             return {code: r.code, taskId: r.data.taskId, durationMs: r.data.durationMs};
           }""",
        [session_id, "Hello from HeyGen's own JavaScript SDK, talking long enough to be cut. " * 4],
    )
    assert task["code"] == 100 and task["taskId"] and task["durationMs"] > 3000
    await page.wait_for_function(
        "(id) => window.t.events.some(e => e.type === 'avatar_start_talking' && e.task_id === id)",
        arg=task["taskId"],
        timeout=10_000,
    )
    await page.wait_for_function(LOUD, arg=3, timeout=10_000)

    # interrupt: avatar_stop_talking for the task, early, and the avatar falls silent.
    await page.evaluate(
        "(id) => window.t.api.interrupt({interruptRequest: {sessionId: id}})", session_id
    )
    await page.wait_for_function(
        "(id) => window.t.events.some(e => e.type === 'avatar_stop_talking' && e.task_id === id)",
        arg=task["taskId"],
        timeout=10_000,
    )
    stopped = await page.evaluate("window.t.events.find(e => e.type === 'avatar_stop_talking')")
    assert 0 < stopped["duration_ms"] < task["durationMs"]
    await page.wait_for_function(QUIET, arg=10, timeout=10_000)
    assert [e["type"] for e in await page.evaluate("window.t.events")] == [
        "avatar_start_talking",
        "avatar_stop_talking",
    ]

    # stopAvatar: the SDK closes its peer and calls streaming.stop; the emulator lets go.
    await page.evaluate(
        "(id) => window.t.api.stopAvatar({stopSessionRequest: {sessionId: id}})", session_id
    )
    assert await page.evaluate("window.t.api.peerConnection.connectionState") == "closed"
    await emulator.wait_closed(session_id, within=10)
    assert await emulator.session_ids() == []
