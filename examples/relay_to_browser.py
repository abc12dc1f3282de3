"""Show the avatar in a browser while the API key stays on the server.

The server opens one HeyGen session and forwards its video and audio to any number of
browser peers with aiortc's ``MediaRelay``. The page only talks to this server
(``POST /offer`` for WebRTC, ``POST /speak`` to make the avatar talk), never to HeyGen.

    python examples/relay_to_browser.py --port 8080      # then open http://127.0.0.1:8080
    python examples/relay_to_browser.py --check          # self-test with an aiortc "browser"
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from _setup import EMULATOR_KEY, connect, parser
from aiohttp import web
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError

from heygen_streaming import Session

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>heygen-streaming relay</title>
<style>body{font-family:sans-serif;margin:2em}video{width:640px;background:#222}</style>
</head><body>
<h1>Avatar relay</h1>
<video id="video" autoplay playsinline controls></video>
<p><input id="text" size="60" value="Hello from the browser!">
<button id="speak">Speak</button> <span id="state">connecting...</span></p>
<script>
const video = document.getElementById("video"), state = document.getElementById("state");
const pc = new RTCPeerConnection();
const stream = new MediaStream();
pc.addTransceiver("video", {direction: "recvonly"});
pc.addTransceiver("audio", {direction: "recvonly"});
pc.ontrack = (e) => { stream.addTrack(e.track); video.srcObject = stream; };
pc.onconnectionstatechange = () => { state.textContent = pc.connectionState; };
async function start() {
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((ok) => {           // send one offer holding every candidate
    if (pc.iceGatheringState === "complete") return ok();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && ok();
  });
  const r = await fetch("/offer", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify(pc.localDescription)});
  await pc.setRemoteDescription(await r.json());
}
document.getElementById("speak").onclick = () => fetch("/speak", {method: "POST",
  headers: {"Content-Type": "application/json"},
  body: JSON.stringify({text: document.getElementById("text").value})});
start();
</script></body></html>
"""


class SessionTrack(MediaStreamTrack):
    """A ``MediaStreamTrack`` fed by one of the session's frame iterators."""

    def __init__(self, kind: str, frames: AsyncIterator[Any]) -> None:
        super().__init__()
        self.kind = kind
        self._frames = frames

    async def recv(self) -> Any:
        try:
            return await anext(self._frames)
        except StopAsyncIteration:
            self.stop()
            raise MediaStreamError from None


class Relay:
    """The web app: one avatar session, many browser peers."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.relay = MediaRelay()
        self.video = SessionTrack("video", session.video())
        self.audio = SessionTrack("audio", session.audio())
        self.peers: set[RTCPeerConnection] = set()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self.page)
        app.router.add_post("/offer", self.offer)
        app.router.add_post("/speak", self.speak)
        return app

    async def page(self, request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def offer(self, request: web.Request) -> web.Response:
        body = await request.json()
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # loopback/LAN: no STUN
        self.peers.add(pc)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.drop(pc)

        pc.addTrack(self.relay.subscribe(self.video, buffered=False))  # latest frame only
        pc.addTrack(self.relay.subscribe(self.audio))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"], type=body["type"]))
        await pc.setLocalDescription(await pc.createAnswer())
        answer = pc.localDescription
        return web.json_response({"sdp": answer.sdp, "type": answer.type})

    async def speak(self, request: web.Request) -> web.Response:
        body = await request.json()
        task = await self.session.speak(str(body.get("text", ""))[:1000])
        return web.json_response({"task_id": task.task_id, "duration_ms": task.duration_ms})

    async def drop(self, pc: RTCPeerConnection) -> None:
        self.peers.discard(pc)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(pc.close(), 5)

    async def close(self) -> None:
        for pc in list(self.peers):
            await self.drop(pc)


async def check(base: str, api_key: str | None) -> None:
    """Act as the browser: fetch the page, connect over WebRTC, receive frames, speak."""
    async with aiohttp.ClientSession() as http:
        async with http.get(base + "/") as r:
            page = await r.text()
        if api_key and api_key in page:
            raise SystemExit("the API key leaked into the page")
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        counts = {"video": 0, "audio": 0}
        size: list[int] = []
        enough = asyncio.Event()

        async def pump(track: MediaStreamTrack) -> None:
            with contextlib.suppress(MediaStreamError):
                while True:
                    frame = await track.recv()
                    counts[track.kind] += 1
                    if track.kind == "video":
                        size[:] = [frame.width, frame.height]
                    if counts["video"] >= 30 and counts["audio"] >= 50:
                        enough.set()

        pumps: list[asyncio.Task[None]] = []
        pc.on("track", lambda track: pumps.append(asyncio.create_task(pump(track))))
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        offer = {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}
        async with http.post(base + "/offer", json=offer) as r:
            answer = await r.json()
        await pc.setRemoteDescription(RTCSessionDescription(**answer))
        async with http.post(base + "/speak", json={"text": "Hello through the relay."}) as r:
            spoke = await r.json()
        try:
            await asyncio.wait_for(enough.wait(), 20)
        finally:
            await asyncio.wait_for(pc.close(), 5)
            for task in pumps:
                task.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
    print(
        f"relay check ok: {counts['video']} video frames ({size[0]}x{size[1]}), "
        f"{counts['audio']} audio frames, spoke task {spoke['task_id']}"
    )


async def main(args: argparse.Namespace) -> None:
    async with connect(args) as client, client.session(args.avatar, quality=args.quality) as s:
        relay = Relay(s)
        runner = web.AppRunner(relay.app())
        await runner.setup()
        site = web.TCPSite(runner, args.host, 0 if args.check else args.port)
        await site.start()
        port = runner.addresses[0][1]
        base = f"http://{args.host}:{port}"
        try:
            if args.check:
                await check(base, args.api_key or os.environ.get("HEYGEN_API_KEY") or EMULATOR_KEY)
            else:
                print(f"open {base} in a browser (Ctrl-C to stop)", flush=True)
                await asyncio.Event().wait()
        finally:
            await relay.close()
            await runner.cleanup()


if __name__ == "__main__":
    p = parser(__doc__ or "")
    p.add_argument("--host", default="127.0.0.1", help="address to serve the page on")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--check", action="store_true", help="self-test with an aiortc client")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(p.parse_args()))
    sys.exit(0)
