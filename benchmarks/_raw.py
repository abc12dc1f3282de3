"""The baseline: the vendor's v1 flow step by step on plain aiortc + httpx, in series.

``streaming.new`` -> remote offer -> answer (aiortc gathers here) -> post each local candidate
one by one to ``streaming.ice`` -> ``streaming.start`` -> wait for the first video frame.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)


def candidates_from_sdp(sdp: str) -> list[dict[str, Any]]:
    """Browser-style candidates of the first (BUNDLE) media section of an SDP."""
    out: list[dict[str, Any]] = []
    mline = -1
    mid: str | None = None
    for line in sdp.splitlines():
        if line.startswith("m="):
            if mline == 0:
                break
            mline += 1
        elif line.startswith("a=mid:"):
            mid = line[6:]
        elif line.startswith("a=candidate:") and mline == 0:
            out.append({"candidate": line[2:], "sdpMid": mid, "sdpMLineIndex": 0})
    return out


def _ice_servers(data: dict[str, Any]) -> list[RTCIceServer]:
    servers = data.get("ice_servers2") or data.get("ice_servers") or []
    return [
        RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
        for s in servers
    ]


@dataclass
class RawSession:
    """A session opened with the raw flow."""

    http: httpx.AsyncClient
    base_url: str
    headers: dict[str, str]
    session_id: str
    pc: RTCPeerConnection
    tracks: dict[str, MediaStreamTrack] = field(default_factory=dict)

    async def call(self, name: str, body: dict[str, Any]) -> Any:
        resp = await self.http.post(
            f"{self.base_url}/v1/streaming.{name}", json=body, headers=self.headers
        )
        resp.raise_for_status()
        return resp.json().get("data")

    async def close(self) -> None:
        try:
            await self.call("stop", {"session_id": self.session_id})
        finally:
            await asyncio.wait_for(self.pc.close(), 5)


async def raw_open(
    http: httpx.AsyncClient, base_url: str, api_key: str, quality: str = "low"
) -> RawSession:
    """Open a session following the vendor's v1 steps in series (tracks not yet read)."""
    headers = {"X-Api-Key": api_key}
    resp = await http.post(
        f"{base_url}/v1/streaming.new",
        json={"quality": quality, "avatar_name": "", "voice": {"voice_id": ""}},
        headers=headers,
    )
    resp.raise_for_status()
    data = resp.json()["data"]
    pc = RTCPeerConnection(RTCConfiguration(iceServers=_ice_servers(data)))
    session = RawSession(http, base_url, headers, data["session_id"], pc)

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        session.tracks[track.kind] = track

    try:
        await pc.setRemoteDescription(RTCSessionDescription(**data["sdp"]))
        await pc.setLocalDescription(await pc.createAnswer())
        answer = pc.localDescription
        for cand in candidates_from_sdp(answer.sdp):
            await session.call("ice", {"session_id": session.session_id, "candidate": cand})
        await session.call(
            "start",
            {"session_id": session.session_id, "sdp": {"type": answer.type, "sdp": answer.sdp}},
        )
    except BaseException:
        await asyncio.wait_for(pc.close(), 5)
        raise
    return session
