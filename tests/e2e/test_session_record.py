"""Recording a live session to MP4 and WebM; the files probe with ffprobe and PyAV."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from heygen_streaming.emulator import Emulator

from ._session_util import WAIT, make_client

pytestmark = pytest.mark.timeout(120)


def _probe(path: Path) -> tuple[dict[str, float], dict[str, str]]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    data = json.loads(out)
    kinds = {s["codec_type"]: s["codec_name"] for s in data["streams"]}
    return {"duration": float(data["format"]["duration"])}, kinds


def _audio_peak(path: Path) -> float:
    peak = 0.0
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            samples = frame.to_ndarray().astype(np.float64)
            if samples.dtype.kind != "f" or np.abs(samples).max() > 1.5:
                samples = samples / 32768.0
            peak = max(peak, float(np.sqrt(np.mean(samples**2))))
    return peak


@pytest.mark.requires_tool("ffprobe", package="ffmpeg")
async def test_record_mp4_has_both_streams_and_speech(
    emulator: Emulator, api_key: str, tmp_path: Path
) -> None:
    async with (
        make_client(emulator.base_url, api_key) as client,
        client.session(quality="low", connect_timeout=WAIT) as s,
    ):
        await s.speak("Recording this sentence into a file for the test.")
        info = await s.record(tmp_path / "out.mp4", duration=2.5)
    assert info.video_frames > 10 and info.audio_frames > 25
    assert 1.0 < info.duration < 2.5 + 5
    (summary, kinds) = await asyncio.to_thread(_probe, info.path)
    assert kinds == {"video": "h264", "audio": "aac"}
    assert 1.0 < summary["duration"] < 2.5 + 5
    assert await asyncio.to_thread(_audio_peak, info.path) > 0.01  # the speech is in it


@pytest.mark.requires_tool("ffprobe", package="ffmpeg")
async def test_recording_context_webm(emulator: Emulator, api_key: str, tmp_path: Path) -> None:
    async with (
        make_client(emulator.base_url, api_key) as client,
        client.session(quality="low", connect_timeout=WAIT) as s,
    ):
        video = s.video(capacity=100)
        async with s.recording(tmp_path / "out.webm") as rec:
            async with asyncio.timeout(WAIT):
                for _ in range(50):  # ~2 s of media
                    await anext(video)
        assert rec.info is not None
    (summary, kinds) = await asyncio.to_thread(_probe, rec.info.path)
    assert kinds == {"video": "vp8", "audio": "opus"}
    assert 0.5 < summary["duration"] < 2 + 5
    with av.open(str(rec.info.path)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == rec.info.video_frames


async def test_recording_rejects_unknown_extension(
    emulator: Emulator, api_key: str, tmp_path: Path
) -> None:
    async with (
        make_client(emulator.base_url, api_key) as client,
        client.session(quality="low", connect_timeout=WAIT) as s,
    ):
        with pytest.raises(ValueError, match="cannot record"):
            await s.record(tmp_path / "out.gif", duration=1)


def _stream_spans(path: Path) -> tuple[dict[str, float], float]:
    """End of each stream (seconds) and the longest gap between video frames."""
    ends: dict[str, float] = {}
    times: list[float] = []
    with av.open(str(path)) as container:
        for stream in container.streams:
            end = 0.0
            for packet in container.demux(stream):
                if packet.pts is None:
                    continue
                start = float(packet.pts * packet.time_base)
                end = max(end, start + float((packet.duration or 0) * packet.time_base))
                if stream.type == "video":
                    times.append(start)
            ends[stream.type] = end
            container.seek(0)
    times.sort()
    return ends, max(b - a for a, b in itertools.pairwise(times))


@pytest.mark.requires_tool("ffprobe", package="ffmpeg")
async def test_recordings_stay_in_sync_and_leave_shared_frames_alone(
    emulator: Emulator, api_key: str, tmp_path: Path
) -> None:
    from heygen_streaming import ConfigurationError

    async with (
        make_client(emulator.base_url, api_key) as client,
        client.session(quality="low", connect_timeout=WAIT) as s,
    ):
        with pytest.raises(ConfigurationError):
            s.video(capacity=0)
        with pytest.raises(ConfigurationError):
            s.events(capacity=0)
        assert s.video(capacity=1).capacity == 1
        assert s.audio(max_bytes=4096).max_bytes == 4096
        reader = s.video(capacity=1000)  # a concurrent reader, keeping what it saw
        for i in range(2):
            await s.record(tmp_path / f"warmup{i}.mp4", duration=0.5)
        async with s.recording(tmp_path / "talk.mp4") as rec:
            await s.speak("A sentence recorded after two other recordings.", wait=True)
        seen = [(frame, frame.pts, frame.time_base) for frame in reader._ring.items()]
    info = rec.info
    assert info is not None
    assert len(seen) > 25
    assert all(frame.pts == pts and frame.time_base == tb for frame, pts, tb in seen)
    pts = [p for _, p, _ in seen]
    assert pts == sorted(pts)  # RTP times, never the recorders' own
    ends, longest_gap = await asyncio.to_thread(_stream_spans, info.path)
    assert abs(ends["video"] - ends["audio"]) <= 0.04 + 0.03  # a video frame + an AAC frame
    assert longest_gap < 0.5  # no freeze
    summary, _ = await asyncio.to_thread(_probe, info.path)
    assert abs(info.duration - summary["duration"]) <= 0.05
