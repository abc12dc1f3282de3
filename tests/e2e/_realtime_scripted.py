"""A scripted Avatar Realtime server on loopback, answering in the guide's variant.

GET answers ``status: "ready"`` with ``url`` (the guide) instead of ``streaming`` /
``hls_url`` (the reference). The HLS stream is a tiny clip made with PyAV in the test
(`make_clip`); the test decides when each segment is listed (`ScriptedRealtime.publish`)
and when the playlist ends. Every request is recorded; the test waits on events, never on
sleeps.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiohttp import web

API_KEY = "scripted-key"
STREAM_ID = "a1b2c3d4-scripted"
TOKEN = "tok-3f9a"
FPS = 25
WIDTH, HEIGHT = 320, 180
RATE = 48_000


@dataclass(frozen=True)
class Clip:
    """A clip cut into HLS segments: ``init`` (fMP4 only) and segment files, in order."""

    kind: str  # "mpegts" or "fmp4"
    directory: Path
    init: str | None
    segments: list[str]
    seconds_per_segment: float
    video_frames: int
    audio_packets: int


def make_clip(directory: Path, kind: str, segments: int = 3, seconds: float = 1.0) -> Clip:
    """Encode ``segments`` HLS segments of ``seconds`` of H.264 + AAC (a tone) with PyAV."""
    directory.mkdir(parents=True, exist_ok=True)
    options = {"hls_time": f"{seconds:g}", "hls_list_size": "0", "hls_segment_type": kind}
    if kind == "fmp4":
        options["hls_fmp4_init_filename"] = "init.mp4"
    out = av.open(str(directory / "source.m3u8"), "w", format="hls", options=options)
    video = out.add_stream(
        "libx264",
        rate=FPS,
        options={
            "preset": "ultrafast",
            "tune": "zerolatency",
            "g": str(round(FPS * seconds)),
            "sc_threshold": "0",
        },
    )
    video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    audio = out.add_stream("aac", rate=RATE)
    audio.layout = "mono"
    frames = round(FPS * seconds * segments)
    for i in range(frames):
        image = np.full((HEIGHT, WIDTH, 3), (i * 7) % 255, np.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = i
        for packet in video.encode(frame):
            out.mux(packet)
    total = round(RATE * seconds * segments)
    t = np.arange(total) / RATE
    wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    audio_packets = 0
    for start in range(0, total, 1024):
        chunk = av.AudioFrame.from_ndarray(
            wave[start : start + 1024].reshape(1, -1), format="fltp", layout="mono"
        )
        chunk.sample_rate = RATE
        chunk.pts = start
        for packet in audio.encode(chunk):
            out.mux(packet)
            audio_packets += 1
    for stream in (video, audio):
        for packet in stream.encode():
            out.mux(packet)
            audio_packets += stream.type == "audio"
    out.close()
    suffix = ".m4s" if kind == "fmp4" else ".ts"
    names = sorted(
        (p.name for p in directory.iterdir() if p.suffix == suffix),
        key=lambda n: int("".join(c for c in n if c.isdigit()) or 0),
    )
    return Clip(
        kind=kind,
        directory=directory,
        init="init.mp4" if kind == "fmp4" else None,
        segments=names,
        seconds_per_segment=seconds,
        video_frames=frames,
        audio_packets=audio_packets,
    )


@dataclass
class Recorded:
    """What the server saw."""

    creates: list[dict[str, Any]] = field(default_factory=list)
    gets: int = 0
    appends: list[dict[str, Any]] = field(default_factory=list)
    cancels: list[str] = field(default_factory=list)
    hls_requests: list[str] = field(default_factory=list)
    hls_auth_headers: list[str] = field(default_factory=list)
    api_auth_ok: bool = True


class ScriptedRealtime:
    """The server. Knobs (set before or during a test):

    ``pending_polls``: GETs answered ``pending`` before ``ready``; the stream reports
    ``completed`` once the playlist ended and its last segment was served; ``hold_create`` /
    ``hold_cancel``: the handler waits until the event is set; ``create_delay``: the create
    answers this many seconds after it made the stream (a slow service); ``append_jitter``:
    each append is recorded after a random pause up to this long (a service handling
    concurrent requests in any order); ``fail_with``: GET reports ``error`` with this
    message; ``words``: the SSE batches.
    """

    def __init__(self, clip: Clip) -> None:
        self.clip = clip
        self.seen = Recorded()
        self.pending_polls = 1
        self.stay_pending = False
        self.fail_with: str | None = None
        self.listed = 0
        self.ended = False
        self.end_reason = "final_marker"
        self.final = False
        self.cancelled = False
        self.hold_create: asyncio.Event | None = None
        self.hold_cancel: asyncio.Event | None = None
        self.create_seen = asyncio.Event()
        self.get_seen = asyncio.Event()
        self.cancel_seen = asyncio.Event()
        self.cancel_done = asyncio.Event()
        self.final_seen = asyncio.Event()
        self.cancel_failures = 0
        self.create_delay = 0.0
        self.append_jitter = 0.0
        self.words: list[list[dict[str, Any]]] = [
            [{"word": "Hello", "start": 0.0, "end": 0.4}, {"word": "!", "start": 0.4, "end": 0.4}],
            [{"word": "Bye", "start": 1.0, "end": 1.3}],
        ]
        self.words_hang = asyncio.Event()
        self.words_end = True
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    # -- control -------------------------------------------------------------------------

    def publish(self, count: int | None = None, *, end: bool = False) -> None:
        """List ``count`` segments (all when None); ``end`` adds ``#EXT-X-ENDLIST``."""
        self.listed = len(self.clip.segments) if count is None else count
        self.ended = self.ended or end

    @property
    def hls_url(self) -> str:
        return f"{self.base_url}/hls/{TOKEN}/stream.m3u8"

    def playlist(self) -> str:
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:7",
            "#EXT-X-TARGETDURATION:1",
            "#EXT-X-MEDIA-SEQUENCE:0",
        ]
        extinf = f"#EXTINF:{self.clip.seconds_per_segment:.6f},"
        if self.clip.init:
            lines.append(f'#EXT-X-MAP:URI="{self.clip.init}"')
        for name in self.clip.segments[: self.listed]:
            lines += [extinf, name]
        if self.ended:
            lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"

    def status(self) -> dict[str, Any]:
        data: dict[str, Any] = {"stream_id": STREAM_ID}
        if self.fail_with is not None:
            data.update(status="error", error_message=self.fail_with)
        elif self.cancelled:
            data.update(status="completed", end_reason="cancelled")
        elif self.ended and self.clip.segments[-1] in self.seen.hls_requests:
            data.update(status="completed", end_reason=self.end_reason)
        elif self.stay_pending or self.seen.gets <= self.pending_polls:
            data.update(status="pending")
        else:
            data.update(status="ready", url=self.hls_url)  # the guide's variant
        return data

    # -- handlers ------------------------------------------------------------------------

    def _authorised(self, request: web.Request) -> bool:
        ok = request.headers.get("x-api-key") == API_KEY
        self.seen.api_auth_ok = self.seen.api_auth_ok and ok
        return ok

    async def _create(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(401, "unauthorized", "Invalid API key")
        self.seen.creates.append(await request.json())
        self.create_seen.set()
        if self.hold_create is not None:
            await self.hold_create.wait()
        if self.create_delay:
            await asyncio.sleep(self.create_delay)  # the service's own pace, not a sync
        return web.json_response({"data": {"stream_id": STREAM_ID}}, status=201)

    async def _get(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(401, "unauthorized", "Invalid API key")
        self.seen.gets += 1
        self.get_seen.set()
        return web.json_response({"data": self.status()})

    async def _text(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(401, "unauthorized", "Invalid API key")
        body = await request.json()
        if self.append_jitter:
            await asyncio.sleep(random.uniform(0, self.append_jitter))  # the service's pace
        if self.final or self.cancelled:
            return _error(410, "stream_closed", "input is closed")
        self.seen.appends.append(body)
        self.final = bool(body.get("final"))
        if self.final:
            self.final_seen.set()
        total = sum(len(a.get("delta", "").encode()) for a in self.seen.appends)
        return web.json_response({"data": {"buffered_bytes": total, "ok": True}}, status=202)

    async def _cancel(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(401, "unauthorized", "Invalid API key")
        self.seen.cancels.append(request.match_info["stream_id"])
        self.cancel_seen.set()
        if self.cancel_failures > 0:
            self.cancel_failures -= 1
            return _error(503, "unavailable", "try again")
        if self.hold_cancel is not None:
            await self.hold_cancel.wait()
        was_running = not self.cancelled
        self.cancelled = True
        self.cancel_done.set()
        return web.json_response({"data": {"stream_id": STREAM_ID, "cancelled": was_running}})

    async def _words(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            return _error(401, "unauthorized", "Invalid API key")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b": scripted server\r\n\r\n")
        for batch in self.words:
            await response.write(f"data: {json.dumps({'words': batch})}\r\n\r\n".encode())
        if not self.words_end:
            await self.words_hang.wait()  # a live stream with nothing more to say yet
        await response.write(b'event: end\ndata: {"stream_id": "x"}\n\n')
        await response.write_eof()
        return response

    async def _hls(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.seen.hls_requests.append(name)
        for header in ("x-api-key", "authorization"):
            if header in request.headers:
                self.seen.hls_auth_headers.append(header)
        if request.match_info["token"] != TOKEN:
            return web.Response(status=403)
        if name == "stream.m3u8":
            return web.Response(text=self.playlist(), content_type="application/vnd.apple.mpegurl")
        path = self.clip.directory / name
        if not path.is_file():
            return web.Response(status=404)
        return web.Response(body=path.read_bytes(), content_type="video/mp2t")

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v3/avatar-realtime", self._create)
        app.router.add_get("/v3/avatar-realtime/{stream_id}", self._get)
        app.router.add_post("/v3/avatar-realtime/{stream_id}/text", self._text)
        app.router.add_post("/v3/avatar-realtime/{stream_id}/cancel", self._cancel)
        app.router.add_get("/v3/avatar-realtime/{stream_id}/words", self._words)
        app.router.add_get("/hls/{token}/{name}", self._hls)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self.hold_create is not None:
            self.hold_create.set()
        if self.hold_cancel is not None:
            self.hold_cancel.set()
        self.words_hang.set()
        if self._runner is not None:
            await self._runner.cleanup()


def _error(status: int, code: str, message: str) -> web.Response:
    body = {
        "error": {
            "code": code,
            "message": message,
            "doc_url": f"https://developers.heygen.com/docs/error-codes#{code}",
        }
    }
    return web.json_response(body, status=status)


async def serve(clip: Clip) -> AsyncIterator[ScriptedRealtime]:
    """Run a `ScriptedRealtime` for one test."""
    server = ScriptedRealtime(clip)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def ffprobe_streams(path: os.PathLike[str] | str) -> list[dict[str, Any]]:
    """The streams of a media file as PyAV sees them (codec, frames/packets counted)."""
    with av.open(str(path)) as container:
        streams = [{"type": s.type, "codec": s.codec_context.name} for s in container.streams]
        counts: dict[int, int] = {}
        for packet in container.demux():
            if packet.size:
                counts[packet.stream.index] = counts.get(packet.stream.index, 0) + 1
        for index, info in enumerate(streams):
            info["packets"] = counts.get(index, 0)
    return streams
