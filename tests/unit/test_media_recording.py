"""Recorder on synthetic PyAV frames: sync, shared frames intact, budgets, stop off the loop."""

from __future__ import annotations

import asyncio
import fractions
import subprocess
import threading
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from heygen_streaming._media import recording as _recording
from heygen_streaming._media.recording import Recorder
from heygen_streaming._media.streams import FrameFanout, frame_nbytes

VIDEO_RTP = 3_000_000  # RTP timestamps start at random offsets
AUDIO_RTP = 7_000_000


class Clock:
    """The recorder's wall clock, advanced by the test with the media."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(_recording, "_clock", fake)
    return fake


def _video(i: int, *, flash: bool = False) -> av.VideoFrame:
    """Frame ``i`` of a 25 fps track, yuv420p with even sizes as aiortc decodes it."""
    rgb = np.full((120, 160, 3), 250 if flash else 20, np.uint8)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    frame.pts = VIDEO_RTP + i * 3600
    frame.time_base = fractions.Fraction(1, 90000)
    return frame


def _audio(k: int, *, beep: bool = False) -> av.AudioFrame:
    """Frame ``k`` of a 20 ms s16 stereo 48 kHz track, as aiortc decodes Opus."""
    tone = (np.sin(np.arange(960) / 10) * (12000 if beep else 500)).astype(np.int16)
    frame = av.AudioFrame.from_ndarray(np.repeat(tone, 2).reshape(1, -1), "s16", "stereo")
    frame.sample_rate = 48000
    frame.pts = AUDIO_RTP + k * 960
    frame.time_base = fractions.Fraction(1, 48000)
    return frame


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def _play(
    video: FrameFanout,
    audio: FrameFanout,
    clock: Clock,
    frames: range,
    *,
    skip_audio: frozenset[int] = frozenset(),
    marker: int | None = None,
) -> list[Any]:
    """Publish video frames ``frames`` (and two audio frames each) in media time.

    Video frame ``marker`` flashes and its two audio frames beep: the same instant.
    """
    published: list[Any] = []
    for i in frames:
        clock.now += 0.04
        v = _video(i, flash=i == marker)
        video.publish(v)
        published.append(v)
        for k in (2 * i, 2 * i + 1):
            if k not in skip_audio:
                a = _audio(k, beep=i == marker)
                audio.publish(a)
                published.append(a)
        await _settle()
    return published


def _spans(path: Path) -> dict[str, tuple[float, float]]:
    """(first pts, end of last packet) per stream type, in seconds."""
    spans: dict[str, tuple[float, float]] = {}
    with av.open(str(path)) as container:
        for stream in container.streams:
            first, end = float("inf"), 0.0
            for packet in container.demux(stream):
                if packet.pts is None:
                    continue
                start = float(packet.pts * packet.time_base)
                first = min(first, start)
                end = max(end, start + float((packet.duration or 0) * packet.time_base))
            spans[stream.type] = (first, end)
            container.seek(0)
    return spans


def _marker_times(path: Path) -> tuple[float, float]:
    """When the flash is shown and when the beep starts, in seconds of the file."""
    with av.open(str(path)) as container:
        flash = max(
            (float(f.to_ndarray(format="gray").mean()), float(f.time))
            for f in container.decode(video=0)
        )[1]
        container.seek(0)
        beep = None
        for f in container.decode(audio=0):
            samples = np.abs(f.to_ndarray().astype(np.float64))
            level = samples.max() / (1.0 if samples.dtype.kind == "f" else 32768.0)
            if level > 0.2 and beep is None:
                beep = float(f.time)
    assert beep is not None
    return flash, beep


def _probe_duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(out)


@pytest.mark.requires_tool("ffprobe", package="ffmpeg")
@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
async def test_recorder_writes_both_streams_in_sync(
    tmp_path: Path, suffix: str, clock: Clock
) -> None:
    video, audio = FrameFanout("video"), FrameFanout("audio")
    path = tmp_path / f"out{suffix}"
    recorder = Recorder(path, video, audio)
    recorder.start()
    # 2 s of media at 25 fps, with a hole in the audio
    await _play(video, audio, clock, range(50), skip_audio=frozenset({30, 31, 32}))
    info = await recorder.stop()
    assert info.video_frames + info.video_dropped == 50
    assert info.audio_frames + info.audio_dropped == 97
    spans = await asyncio.to_thread(_spans, path)
    assert sorted(spans) == ["audio", "video"]
    # the audio gap is filled with silence: both streams span ~2 s
    assert abs(spans["audio"][1] - spans["video"][1]) < 0.07
    probe = await asyncio.to_thread(
        subprocess.run,
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "video" in probe.stdout and "audio" in probe.stdout


@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
async def test_recorder_never_changes_shared_frames(
    tmp_path: Path, suffix: str, clock: Clock
) -> None:
    video = FrameFanout("video", replay_latest=True)
    audio = FrameFanout("audio")
    reader_v, reader_a = video.subscribe(500), audio.subscribe(500)
    recorder = Recorder(tmp_path / f"out{suffix}", video, audio)
    recorder.start()
    published = await _play(video, audio, clock, range(25))
    before = [(f.pts, f.time_base) for f in published]
    await recorder.stop()
    assert [(f.pts, f.time_base) for f in published] == before
    read = reader_v._ring.items() + reader_a._ring.items()
    assert sorted(f.pts for f in read) == sorted(p for p, _ in before)
    latest = video.subscribe(1)._ring.items()
    assert latest[0].pts == VIDEO_RTP + 24 * 3600  # the replayed frame kept its RTP time


@pytest.mark.requires_tool("ffprobe", package="ffmpeg")
async def test_second_recording_stays_in_sync_and_reports_its_duration(
    tmp_path: Path, clock: Clock
) -> None:
    video = FrameFanout("video", replay_latest=True)
    audio = FrameFanout("audio")
    first = Recorder(tmp_path / "first.mp4", video, audio)
    first.start()
    await _play(video, audio, clock, range(25))
    await first.stop()
    second = Recorder(tmp_path / "second.mp4", video, audio)
    second.start()
    await _play(video, audio, clock, range(25, 75), marker=50)  # 2 s
    info = await second.stop()
    spans = await asyncio.to_thread(_spans, info.path)
    frame = 0.04
    flash, beep = await asyncio.to_thread(_marker_times, info.path)
    assert abs(flash - beep) <= frame
    assert abs(flash - 1.04) <= frame  # frame 50 is the 26th of this recording
    assert abs(spans["video"][1] - spans["audio"][1]) <= frame + 0.03  # + an AAC frame
    assert abs(info.duration - 2.0) <= frame + 0.03
    assert abs(info.duration - await asyncio.to_thread(_probe_duration, info.path)) <= frame


async def test_recorder_resyncs_when_timestamps_jump(tmp_path: Path, clock: Clock) -> None:
    video, audio = FrameFanout("video"), FrameFanout("audio")
    recorder = Recorder(tmp_path / "out.mp4", video, audio)
    recorder.start()
    await _play(video, audio, clock, range(25))
    for i in range(25, 50):  # the sender restarted its video RTP clock an hour ahead
        clock.now += 0.04
        v = _video(i)
        v.pts += 3600 * 90000
        video.publish(v)
        audio.publish(_audio(2 * i))
        audio.publish(_audio(2 * i + 1))
        await _settle()
    info = await recorder.stop()
    spans = await asyncio.to_thread(_spans, info.path)
    assert abs(spans["video"][1] - spans["audio"][1]) <= 0.07
    assert info.duration < 2.2


async def test_recorder_queue_is_bounded_in_bytes(tmp_path: Path, clock: Clock) -> None:
    video, audio = FrameFanout("video"), FrameFanout("audio")
    size = frame_nbytes(_video(0))
    recorder = Recorder(tmp_path / "out.mp4", video, audio, video_max_bytes=3 * size)
    recorder.start()
    for i in range(10):  # the encoder gets no chance to run: the queue must cap itself
        video.publish(_video(i))
    queued = recorder._streams[0]
    assert len(queued) == 3 and queued.nbytes == 3 * size
    info = await recorder.stop()
    assert info.video_dropped == 7 and info.video_frames == 3


async def test_recorder_repr_says_what_it_does_and_info_is_listed(
    tmp_path: Path, clock: Clock
) -> None:
    assert "info" in dir(Recorder)  # documented, and completed by editors before a stop
    video, audio = FrameFanout("video"), FrameFanout("audio")
    path = str(tmp_path / "r.mp4")
    recorder = Recorder(path, video, audio)
    assert repr(recorder) == f"<Recorder {path!r} not started, 0 video, 0 audio frames>"
    assert recorder.info is None
    recorder.start()
    assert " recording, " in repr(recorder)
    await _play(video, audio, clock, range(10))
    info = await recorder.stop()
    assert recorder.info is info
    assert repr(recorder).startswith(f"<Recorder {path!r} stopped, ")
    assert f"{info.video_frames} video, {info.audio_frames} audio frames>" in repr(recorder)


def test_recorder_budgets_are_validated(tmp_path: Path) -> None:
    from heygen_streaming import ConfigurationError

    video, audio = FrameFanout("video"), FrameFanout("audio")
    with pytest.raises(ConfigurationError, match="video_capacity"):
        Recorder(tmp_path / "a.mp4", video, audio, video_capacity=0)
    with pytest.raises(ConfigurationError, match="max_bytes"):
        Recorder(tmp_path / "a.mp4", video, audio, audio_max_bytes=0)


async def test_cancelled_stop_never_blocks_the_loop(
    tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()
    finish = _recording.Writer.finish

    def slow_finish(self: Any) -> None:
        entered.set()
        release.wait(10)  # a safety net: the test releases it much earlier
        finish(self)

    monkeypatch.setattr(_recording.Writer, "finish", slow_finish)
    video, audio = FrameFanout("video"), FrameFanout("audio")
    recorder = Recorder(tmp_path / "out.mp4", video, audio)
    recorder.start()
    await _play(video, audio, clock, range(5))
    stopping = asyncio.ensure_future(recorder.stop())
    assert await asyncio.to_thread(entered.wait, 10)
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    assert not release.is_set()  # the loop ran on while the flush was still blocked
    release.set()
    info = await recorder.stop()  # the flush went on; a second stop returns its result
    assert info.video_frames == 5
    assert (await asyncio.to_thread(_spans, info.path)).keys() == {"video", "audio"}


def test_recorded_size_is_even_and_capped() -> None:
    from heygen_streaming._media.writer import output_size

    assert output_size(1280, 720) == (1280, 720)
    assert output_size(161, 121) == (160, 120)
    assert output_size(7680, 4320) == (1920, 1080)  # a hostile 8K stream
    assert output_size(4000, 1000) == (1920, 480)
    assert output_size(1, 1) == (2, 2)


async def test_huge_frames_are_recorded_scaled_down(tmp_path: Path, clock: Clock) -> None:
    video, audio = FrameFanout("video"), FrameFanout("audio")
    recorder = Recorder(tmp_path / "out.webm", video, audio)
    recorder.start()
    for i in range(3):
        clock.now += 0.04
        frame = av.VideoFrame(3840, 2160, "yuv420p")
        frame.pts, frame.time_base = VIDEO_RTP + i * 3600, fractions.Fraction(1, 90000)
        video.publish(frame)
        await _settle()
    info = await recorder.stop()
    with av.open(str(info.path)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (1920, 1080)
