"""A raw aiortc + httpx client following the vendor's v1 flow (used by emulator tests)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import av
import httpx
import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription


class RawClient:
    """new -> answer (all candidates in the SDP) -> start; collects frames."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.session_id = ""
        self.info: dict[str, Any] = {}
        self.video: asyncio.Queue[av.VideoFrame] = asyncio.Queue(maxsize=200)
        self.audio: asyncio.Queue[av.AudioFrame] = asyncio.Queue(maxsize=500)
        self.kinds: list[str] = []
        self._pumps: list[asyncio.Task[None]] = []

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self.kinds.append(track.kind)
            queue: Any = self.video if track.kind == "video" else self.audio
            self._pumps.append(asyncio.create_task(self._pump(track, queue)))

    async def _pump(self, track: MediaStreamTrack, queue: asyncio.Queue[Any]) -> None:
        with contextlib.suppress(Exception):
            while True:
                frame = await track.recv()
                if queue.full():
                    queue.get_nowait()
                queue.put_nowait(frame)

    async def call(self, name: str, body: dict[str, Any]) -> Any:
        response = await self.http.post(f"/v1/streaming.{name}", json=body)
        payload = response.json()
        assert response.status_code == 200, payload
        assert payload["code"] == 100, payload
        return payload["data"]

    async def connect(self, **new_body: Any) -> None:
        self.info = await self.call("new", {"quality": "low", **new_body})
        self.session_id = self.info["session_id"]
        offer = self.info["sdp"]
        await self.pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], offer["type"]))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        answer = {"type": "answer", "sdp": self.pc.localDescription.sdp}
        await self.call("start", {"session_id": self.session_id, "sdp": answer})

    async def close(self) -> None:
        for pump in self._pumps:
            pump.cancel()
        await asyncio.wait_for(self.pc.close(), 5)


def rms(frame: av.AudioFrame) -> float:
    """RMS level of an s16 audio frame, 0..1."""
    samples = frame.to_ndarray().astype(np.float64) / 32768.0
    return float(np.sqrt(np.mean(samples**2)))
