"""Helpers for the emulator's Avatar Realtime (v3) tests: raw httpx, PyAV, SSE parsing."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import av
import httpx
import numpy as np

from heygen_streaming.emulator import Emulator
from heygen_streaming.emulator.v3 import RealtimeOptions, RealtimeStream

BASE = "/v3/avatar-realtime"
KEY = "v3-key"
OTHER_KEY = "v3-other-key"


@asynccontextmanager
async def v3_emulator(**options: Any) -> AsyncIterator[Emulator]:
    """An emulator accepting `KEY` and `OTHER_KEY` with the given v3 options."""
    realtime = RealtimeOptions(**{"file_grace": 30.0, "end_linger": 0.2, **options})
    async with Emulator(api_key=KEY, extra_keys=[OTHER_KEY], realtime=realtime) as emu:
        yield emu


@asynccontextmanager
async def client(emu: Emulator, key: str | None = KEY) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client for ``emu`` sending ``x-api-key`` (lower case, as HeyGen's curl does)."""
    headers = {"x-api-key": key} if key else {}
    async with httpx.AsyncClient(base_url=emu.base_url, headers=headers, timeout=20) as http:
        yield http


def tts(text: str = "Hello there.", **extra: Any) -> dict[str, Any]:
    """A tts create body."""
    return {"type": "tts", "avatar_id": "Daisy", "voice_id": "v1", "text": text, **extra}


def text_stream(text: str = "Hello", **extra: Any) -> dict[str, Any]:
    """A text_stream create body."""
    return {"type": "text_stream", "avatar_id": "Daisy", "voice_id": "v1", "text": text, **extra}


async def create(http: httpx.AsyncClient, body: dict[str, Any]) -> str:
    """Create a stream; returns its id (asserts 201 and the envelope)."""
    response = await http.post(BASE, json=body)
    assert response.status_code == 201, response.text
    payload = response.json()
    assert set(payload) == {"data"} and set(payload["data"]) == {"stream_id"}
    stream_id: str = payload["data"]["stream_id"]
    return stream_id


async def status(http: httpx.AsyncClient, stream_id: str) -> dict[str, Any]:
    """``GET /{stream_id}`` data."""
    response = await http.get(f"{BASE}/{stream_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def stream_of(emu: Emulator, stream_id: str) -> RealtimeStream:
    """The emulator-side stream object."""
    return emu.realtime.registry.streams[stream_id]


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert a v3 error envelope with ``status`` and ``code``; return ``error``."""
    assert response.status_code == status, response.text
    payload = response.json()
    assert set(payload) == {"error"}, payload
    error: dict[str, Any] = payload["error"]
    assert error["code"] == code, error
    assert error["message"] and error["doc_url"].startswith("https://developers.heygen.com/")
    return error


async def read_sse(http: httpx.AsyncClient, stream_id: str) -> list[tuple[str, Any]]:
    """Read ``/words`` to its end: [(event name or "message", parsed data), ...]."""
    events: list[tuple[str, Any]] = []
    async with http.stream("GET", f"{BASE}/{stream_id}/words") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        name, data = "message", ""
        async for line in response.aiter_lines():
            if line.startswith(":"):
                continue
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data += line[5:].strip()
            elif not line and data:
                events.append((name, json.loads(data)))
                name, data = "message", ""
    return events


def decode_hls(url: str, crop: tuple[int, int, int, int] | None = None) -> dict[str, Any]:
    """Decode a whole HLS playlist with PyAV (blocking: run in a thread).

    Returns video size, codec names, frame count, and the audio as one mono float array
    with the time of its first sample; with ``crop`` (x, y, w, h), the luma of that
    rectangle of every frame (``"crops"``).
    """
    with av.open(url, options={"live_start_index": "0"}) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        out: dict[str, Any] = {
            "video_codec": video.codec_context.name,
            "audio_codec": audio.codec_context.name,
            "sample_rate": audio.codec_context.sample_rate,
            "frames": 0,
        }
        chunks: list[np.ndarray[Any, Any]] = []
        frames: list[np.ndarray[Any, Any]] = []
        for frame in container.decode(video, audio):
            if isinstance(frame, av.VideoFrame):
                out["frames"] += 1
                out["size"] = (frame.width, frame.height)
                out.setdefault("video_start", frame.time)
                if crop is not None:
                    x, y, w, h = crop
                    luma = frame.to_ndarray(format="gray")
                    frames.append(luma[y : y + h, x : x + w].astype(np.float32))
            else:
                out.setdefault("audio_start", frame.time)
                chunks.append(frame.to_ndarray().reshape(-1).astype(np.float32))
        out["audio"] = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
        out["crops"] = frames
    return out


def wav_bytes(samples: np.ndarray[Any, Any], rate: int = 16_000) -> bytes:
    """Mono float samples as a 16-bit WAV file."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="wav") as container:
        stream: Any = container.add_stream("pcm_s16le", rate=rate)
        stream.layout = "mono"
        pcm = np.clip(samples * 32767, -32768, 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()
