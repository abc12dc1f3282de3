"""Real Chromium against the emulator: its own demo page, and the vendor's v1 JS flow.

libwebrtc ignores loopback, so the emulator runs in a network namespace and Chromium in
another (``netns_emulator``, ``netns_page``: see ``conftest.py``), joined by a veth pair.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [
    pytest.mark.browser,
    pytest.mark.netns,
    pytest.mark.requires_tool("ip", package="iproute2"),
    pytest.mark.timeout(90),
]


def _status(emulator: Any, session_id: str) -> tuple[str, int] | None:
    session = emulator.get_session(session_id)
    return None if session is None else (session.status, session.tasks)


async def test_demo_page_plays_video_speaks_and_stops(
    netns_emulator: Any, api_key: str, netns_page: Any
) -> None:
    emulator, page = netns_emulator, netns_page
    await page.goto(emulator.base_url + "/")
    await page.fill("#apiKey", api_key)
    await page.select_option("#quality", "low")
    await page.click("#start")
    await page.wait_for_function("document.querySelector('video').videoWidth > 0", timeout=30_000)
    assert await page.evaluate("document.querySelector('video').videoWidth") == 640
    session_id = await page.evaluate("window.demo.sessionId")
    status = await emulator.call(_status, session_id)
    assert status is not None and status[0] == "connected"

    await page.fill("#text", "Hello from Chromium, speaking long enough to be interrupted. " * 4)
    await page.click("#speak")
    await page.wait_for_function("window.demo.tasks.length === 1", timeout=10_000)
    assert await emulator.call(_status, session_id) == ("connected", 1)
    # The server's data channel reports the speech starting, for this task and session.
    await page.wait_for_function(
        "window.demo.messages.some(m => m.type === 'avatar_start_talking')", timeout=10_000
    )
    task = await page.evaluate("window.demo.tasks[0]")
    started = await page.evaluate("window.demo.messages[0]")
    assert started == {"type": "avatar_start_talking", "task_id": task["task_id"]}
    assert await page.text_content("#talking") == "talking…"
    await page.click("#interrupt")
    await page.wait_for_function(
        "window.demo.messages.some(m => m.type === 'avatar_stop_talking')", timeout=10_000
    )
    stopped = await page.evaluate("window.demo.messages[1]")
    assert stopped["task_id"] == task["task_id"]
    assert 0 < stopped["duration_ms"] < task["duration_ms"]
    assert await page.text_content("#talking") == "silent"
    await page.click("#stop")
    await emulator.wait_closed(session_id, within=10)
    assert await emulator.session_ids() == []
    assert await page.evaluate("window.demo.errors") == []


VENDOR_FLOW = """
async ([base, key]) => {
  // The vendor's published v1 browser flow, step by step (our transcription).
  const post = async (name, body) => {
    const r = await fetch(`${base}/v1/streaming.${name}`, {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-Api-Key": key},
      body: JSON.stringify(body),
    });
    const j = await r.json();
    if (j.code !== 100) throw new Error(`${name}: ${r.status} ${j.message}`);
    return j.data;
  };
  const data = await post("new", {quality: "low", avatar_name: "", voice: {voice_id: ""}});
  const {sdp: serverSdp, ice_servers2: iceServers, session_id} = data;
  const pc = new RTCPeerConnection({iceServers});
  window.vendorPc = pc;
  const video = document.createElement("video");
  video.autoplay = true; video.muted = true; video.playsInline = true;
  document.body.appendChild(video);
  window.vendorVideo = video;
  window.vendorTracks = [];
  pc.ontrack = (event) => {
    window.vendorTracks.push(event.track.kind);
    if (event.track.kind === "audio" || event.track.kind === "video") {
      video.srcObject = event.streams[0];
    }
  };
  pc.onicecandidate = ({candidate}) => {
    if (candidate) {
      post("ice", {session_id, candidate: candidate.toJSON()});
    }
  };
  await pc.setRemoteDescription(new RTCSessionDescription(serverSdp));
  const localDescription = await pc.createAnswer();
  await pc.setLocalDescription(localDescription);
  await post("start", {session_id, sdp: localDescription});
  return session_id;
}
"""


async def test_vendor_v1_js_flow(netns_emulator: Any, api_key: str, netns_page: Any) -> None:
    emulator, page = netns_emulator, netns_page
    # From another origin (an opaque one): every call goes through a CORS preflight.
    await page.set_content("<html><body><p>vendor flow</p></body></html>")
    session_id = await page.evaluate(VENDOR_FLOW, [emulator.base_url, api_key])
    await page.wait_for_function("window.vendorVideo.videoWidth > 0", timeout=30_000)
    tracks = await page.evaluate("window.vendorTracks")
    assert sorted(tracks) == ["audio", "video"]
    stream_tracks = await page.evaluate("window.vendorVideo.srcObject.getTracks().length")
    assert stream_tracks == 2  # audio and video arrive on one MediaStream
    await page.evaluate(
        """async ([base, key, id]) => {
          for (const [name, body] of [["task", {session_id: id, text: "Hi there"}],
                                      ["stop", {session_id: id}]]) {
            const r = await fetch(`${base}/v1/streaming.${name}`, {method: "POST",
              headers: {"Content-Type": "application/json", "X-Api-Key": key},
              body: JSON.stringify(body)});
            if ((await r.json()).code !== 100) throw new Error(name);
          }
          window.vendorPc.close();
        }""",
        [emulator.base_url, api_key, session_id],
    )
    await emulator.wait_closed(session_id, within=10)
    assert await emulator.session_ids() == []
