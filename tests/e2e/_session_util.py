"""Helpers shared by the tests/e2e/test_session_*.py files."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import av
import httpx
import numpy as np

from heygen_streaming import StreamingClient

# Generous: five agents share this 2-core machine.
WAIT = 30.0


def rms(frame: av.AudioFrame) -> float:
    """RMS level of an s16 audio frame, 0..1."""
    samples = frame.to_ndarray().astype(np.float64) / 32768.0
    return float(np.sqrt(np.mean(samples**2)))


@contextlib.asynccontextmanager
async def make_client(base_url: str, api_key: str, **kwargs: Any) -> AsyncIterator[StreamingClient]:
    """A StreamingClient for the emulator."""
    async with StreamingClient(api_key=api_key, base_url=base_url, **kwargs) as client:
        yield client


@contextlib.asynccontextmanager
async def emulator_process(api_key: str, *extra: str) -> AsyncIterator[tuple[str, Any]]:
    """``python -m heygen_streaming.emulator --port 0`` in a subprocess: (base URL, process)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "heygen_streaming.emulator",
        "--port",
        "0",
        "--api-key",
        api_key,
        "--stamp",
        *extra,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        url = None
        async with asyncio.timeout(WAIT):
            while url is None:
                line = (await proc.stdout.readline()).decode()
                if not line:
                    raise RuntimeError("emulator exited before printing its URL")
                match = re.search(r"http://[\w.\[\]:]+", line)
                url = match.group(0) if match else None
        yield url, proc
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()


class RewriteNew(httpx.AsyncBaseTransport):
    """Forwards every call to the emulator, passing ``streaming.new``'s data through
    ``rewrite`` (a hostile or unusual server without a special emulator)."""

    def __init__(self, rewrite: Callable[[dict[str, Any]], None]) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.rewrite = rewrite

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not request.url.path.endswith("/streaming.new"):
            return response
        await response.aread()
        body = json.loads(response.content)
        if isinstance(body.get("data"), dict):
            self.rewrite(body["data"])
        return httpx.Response(response.status_code, json=body, request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@contextlib.asynccontextmanager
async def rewriting_client(
    base_url: str, api_key: str, rewrite: Callable[[dict[str, Any]], None]
) -> AsyncIterator[StreamingClient]:
    """A StreamingClient whose ``streaming.new`` answers pass through ``rewrite``."""
    async with (
        httpx.AsyncClient(transport=RewriteNew(rewrite)) as http,
        StreamingClient(api_key=api_key, base_url=base_url, http_client=http) as client,
    ):
        yield client


class VideoOnlyServer:
    """A duck-typed StreamingClient whose 'service' is a local aiortc peer offering video
    only (no audio, no data channel): the smallest offer a session must handle."""

    def __init__(self) -> None:
        self.peers: dict[str, Any] = {}
        self.stopped: list[str] = []

    async def _create_session(self, **kwargs: Any) -> Any:
        """What the connect of a session calls (`StreamingClient._create_session`)."""
        from aiortc import RTCConfiguration, RTCPeerConnection, VideoStreamTrack

        from heygen_streaming._v1.created import CreatedSession

        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTransceiver(VideoStreamTrack(), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        session_id = f"video-only-{len(self.peers)}"
        self.peers[session_id] = pc
        offer = {"type": "offer", "sdp": pc.localDescription.sdp}
        return CreatedSession.parse({"session_id": session_id, "sdp": offer})

    async def start_session(self, session_id: str, sdp: str, **kwargs: Any) -> None:
        from aiortc import RTCSessionDescription

        await self.peers[session_id].setRemoteDescription(RTCSessionDescription(sdp, "answer"))

    async def submit_ice(self, session_id: str, candidate: Any, **kwargs: Any) -> None:
        """Candidates are in the answer SDP already."""

    async def stop_session(self, session_id: str, **kwargs: Any) -> None:
        self.stopped.append(session_id)
        await self.peers.pop(session_id).close()

    async def aclose(self) -> None:
        for pc in self.peers.values():
            await pc.close()
