"""The synthetic avatar: sizes, opt-in stamps, speech-driven mouth, blinks, motion, speech,
the off-line rendering API and the VP8 keyframes."""

from __future__ import annotations

import asyncio
import dataclasses
import fractions
import itertools

import av
import httpx
import numpy as np
import pytest

from heygen_streaming.emulator import RESOLUTIONS, Emulator, read_stamp
from heygen_streaming.emulator.__main__ import build_parser
from heygen_streaming.emulator.avatar import (
    CLOSED,
    AvatarRenderer,
    AvatarState,
    AvatarVideoTrack,
    MouthPose,
    MouthShape,
    Pose,
    idle_packets,
    synthesize,
)
from heygen_streaming.emulator.avatar.speech import (
    CHAT_REPLIES,
    SpeechQueue,
    Utterance,
    chat_reply,
    estimate_duration_ms,
)
from heygen_streaming.emulator.avatar.stamp import stamp_block_size, stamp_height
from heygen_streaming.emulator.process import EmulatorProcess

from ._rawclient import RawClient


def _barcode_fraction(frame: av.VideoFrame) -> float:
    """Share of the stamp strip's pixels that are stamp black or white (1.0 when stamped)."""
    block = stamp_block_size(frame.width)
    luma = frame.to_ndarray(format="gray")[
        : stamp_height(frame.width), : frame.width // block * block
    ]
    return float(np.mean((luma < 24) | (luma > 228)))


@pytest.mark.parametrize("quality", ["high", "medium", "low"])
async def test_frames_have_the_quality_size_and_a_stamp_only_on_request(quality: str) -> None:
    for stamp in (True, False):
        state = AvatarState(quality=quality, stamp=stamp)
        track = AvatarVideoTrack(state)
        try:
            frames = [await track.recv() for _ in range(3)]
        finally:
            track.stop()
        assert (frames[0].width, frames[0].height) == RESOLUTIONS[quality]
        if stamp:
            assert [read_stamp(f).index for f in frames] == [0, 1, 2]  # type: ignore[union-attr]
            assert _barcode_fraction(frames[0]) == 1.0
        else:
            assert [read_stamp(f) for f in frames] == [None] * 3
            assert _barcode_fraction(frames[0]) < 0.01  # the backdrop, not a barcode


async def _first_frames(base_url: str, key: str, count: int) -> list[av.VideoFrame]:
    async with httpx.AsyncClient(base_url=base_url, headers={"X-Api-Key": key}) as http:
        client = RawClient(http)
        try:
            await client.connect()
            return [await asyncio.wait_for(client.video.get(), 10) for _ in range(count)]
        finally:
            await client.close()


@pytest.mark.timeout(60)
async def test_stamp_is_off_by_default_and_on_with_the_emulator_option() -> None:
    async with Emulator(api_key="k") as emu:  # what users get: Emulator() defaults
        frames = await _first_frames(emu.base_url, "k", 5)
    assert all(read_stamp(f) is None for f in frames)
    assert max(_barcode_fraction(f) for f in frames) < 0.01
    assert not build_parser().parse_args([]).stamp  # plain `heygen-streaming emulator`
    # `--stamp` through the CLI, as tests and benchmarks start it (EmulatorProcess).
    with EmulatorProcess("k", stamp=True) as proc:
        frames = await _first_frames(proc.base_url, "k", 5)
    stamps = [read_stamp(f) for f in frames]
    assert all(s is not None for s in stamps)


def _mouth_darkness(frame: av.VideoFrame, track: AvatarVideoTrack) -> int:
    """Dark (open-mouth) pixels in the mouth area, wherever the head has moved."""
    layers = track._renderer.layers
    pose = track.last_pose
    x = layers.head_xy[0] + layers.mouth_xy[0] + pose.dx
    y = layers.head_xy[1] + layers.mouth_xy[1] + pose.dy
    h, w = layers.variants[0].mouths[0][0].y.shape
    luma = frame.to_ndarray(format="gray")[y - 4 : y + h + 4, x - 4 : x + w + 4]
    return int(np.count_nonzero(luma < 45))  # the mouth's inside, not the lips' seam


def test_mouth_follows_the_speech_being_played() -> None:
    state = AvatarState(quality="low")
    track = AvatarVideoTrack(state)
    silent = []
    for i in range(10):
        state.speech.next_chunk(960)
        silent.append(_mouth_darkness(track.render(i), track))
    state.speech.push(Utterance("t", "Open wide, please, and say aah").prepare(10))
    levels, darkness = [], []
    for i in range(10, 80):  # two 20 ms audio chunks per 40 ms video frame
        chunk = np.concatenate([state.speech.next_chunk(960), state.speech.next_chunk(960)])
        levels.append(_rms(chunk[-960:]))
        darkness.append(_mouth_darkness(track.render(i), track))
    track.stop()
    assert silent == [0] * 10  # closed while silent
    assert max(darkness) > 100  # wide open at the loud parts
    # It follows the loudness as well as the babble did (0.65), phonemes and all.
    assert float(np.corrcoef(levels, darkness)[0, 1]) > 0.65


def test_blinks_come_at_natural_random_intervals() -> None:
    renderer = AvatarRenderer(640, 360, avatar="emulator")
    lids = [renderer.pose(i / 25).lid for i in range(60 * 25)]
    starts = [i / 25 for i in range(1, len(lids)) if lids[i] and not lids[i - 1]]
    assert starts[0] < 3.0  # a blink within the first 3 s
    gaps = np.diff(starts)
    assert 8 <= len(starts) <= 30 and gaps.max() < 10.0
    assert gaps.std() > 0.3  # not a metronome
    closed = next(i for i, lid in enumerate(lids) if lid == 2)
    pose = renderer.pose(closed / 25)
    shut = renderer.render_pose(pose).to_ndarray(format="gray")
    open_ = renderer.render_pose(dataclasses.replace(pose, lid=0)).to_ndarray(format="gray")
    assert np.count_nonzero(open_ > 220) - np.count_nonzero(shut > 220) > 100  # no sclera


def test_eyes_mostly_look_ahead_with_glances_aside() -> None:
    renderer = AvatarRenderer(640, 360, avatar="emulator")
    gazes = [renderer.pose(i / 25).gaze for i in range(60 * 25)]
    glances = sum(1 for a, b in itertools.pairwise(gazes) if b and not a)
    assert glances >= 4 and gazes.count(0) > 0.6 * len(gazes)
    pose = renderer.pose(0.0)
    ahead = renderer.render_pose(dataclasses.replace(pose, gaze=0)).to_ndarray(format="gray")
    left = renderer.render_pose(dataclasses.replace(pose, gaze=-1)).to_ndarray(format="gray")
    dark = np.argwhere(ahead < 40)[:, 1].mean(), np.argwhere(left < 40)[:, 1].mean()
    assert dark[1] < dark[0] - 1  # the pupils moved left


def test_head_sways_slowly_and_leans_in_while_talking() -> None:
    renderer = AvatarRenderer(1280, 720)
    poses = [renderer.pose(i / 25) for i in range(250)]
    dx, dy = np.array([p.dx for p in poses]), np.array([p.dy for p in poses])
    assert np.ptp(dx) >= 4 and np.ptp(dy) >= 2  # it moves
    assert np.abs(np.diff(dx)).max() <= 2 and np.abs(np.diff(dy)).max() <= 2  # gently
    assert renderer.pose(3.0, lean=1.0).dy > renderer.pose(3.0).dy  # leans in while talking


def test_offline_renderer_and_speech_for_other_streams() -> None:
    text = "Rendered off-line, faster than real time."
    clip = synthesize(text)
    live = Utterance("x", text).prepare(10)
    assert [w.word for w in clip.words()] == [w.word for w in live.words()]  # the live voice
    assert abs(clip.duration * 1000 - live.duration_ms) < 20  # (eSpeak varies by a few ms)
    assert [round(w.start / 960) for w in clip.words()] == [
        round(w.start / 960) for w in live.words()
    ]
    opens = [clip.mouth_at(i / 25).open for i in range(round(clip.duration * 25))]
    assert max(opens) > 0.5 and min(opens) == 0.0
    assert clip.mouth_at(clip.duration + 0.1) == CLOSED
    plain = AvatarRenderer(1280, 720, stamp=False)
    frame = plain.render(1.0, clip.mouth_at(1.0))
    assert (frame.width, frame.height, frame.format.name) == (1280, 720, "yuv420p")
    assert read_stamp(frame) is None
    stamped = AvatarRenderer(1280, 720, stamp=True).render(2.0, 0.5)
    assert read_stamp(stamped).index == 50  # type: ignore[union-attr]
    # Same time and mouth, same picture; a different mouth changes it.
    again = plain.render(1.0, clip.mouth_at(1.0)).to_ndarray()
    assert np.array_equal(frame.to_ndarray(), again)
    wide = MouthPose(1.0, MouthShape.OPEN)
    assert not np.array_equal(plain.render(1.0, wide).to_ndarray(), again)


@pytest.mark.parametrize("size", [(640, 360), (1920, 1080), (360, 640), (160, 90)])
def test_layers_draw_at_any_even_size(size: tuple[int, int]) -> None:
    frame = AvatarRenderer(*size, avatar="someone else").render(0.5, 0.7)
    assert (frame.width, frame.height) == size


def test_speech_is_loud_and_lasts_its_duration() -> None:
    assert estimate_duration_ms("Hello world") == pytest.approx(770)  # before rendering
    assert estimate_duration_ms("Hi") == 500  # minimum
    assert estimate_duration_ms("Hello world", rate=1.5) == pytest.approx(770 / 1.5)
    slow = Utterance("a", "Hello world, how are you?").prepare(10)
    fast = Utterance("b", "Hello world, how are you?", rate=1.5).prepare(10)
    assert fast.duration_ms < 0.8 * slow.duration_ms  # the voice's speed
    queue = SpeechQueue()
    idle_rms = [_rms(queue.next_chunk(960)) for _ in range(10)]
    utterance = Utterance("c", "Hello world, how are you?").prepare(10)
    queue.push(utterance)
    chunks = 0
    speech_rms = []
    while queue.talking:
        speech_rms.append(_rms(queue.next_chunk(960)))
        chunks += 1
    assert chunks == pytest.approx(utterance.duration_ms / 20, abs=1)  # the exact length
    assert max(idle_rms) < 0.001 < 0.02 < max(speech_rms)


def test_an_utterance_waits_for_its_audio_without_blocking() -> None:
    queue = SpeechQueue()
    utterance = Utterance("w", "Waiting for the engine. " * 30)  # several parts
    queue.push(utterance)
    started: list[str] = []
    queue.listener = lambda kind, u, cut: started.append(kind)
    while utterance.position == 0:  # noise, and no "start", until its audio is rendered
        level = _rms(queue.next_chunk(960))
        assert utterance.position > 0 or (level < 0.001 and not started)
    assert started == ["start"] and not utterance.done
    assert utterance.prepare(10).duration_ms > 10_000  # the rest timed in the background
    queue.interrupt()
    assert started == ["start", "stop"]


def test_interrupt_cuts_speech_at_once() -> None:
    queue = SpeechQueue()
    queue.push(Utterance("a", "one two three", 3000))
    queue.push(Utterance("b", "four five", 3000))
    queue.next_chunk(960)
    assert queue.interrupt() == 2
    assert not queue.talking and _rms(queue.next_chunk(960)) < 0.001


def test_chat_replies_are_canned_and_stable() -> None:
    assert chat_reply("What is up?") in CHAT_REPLIES
    assert chat_reply("What is up?") == chat_reply("What is up?")


def test_idle_audio_is_a_shared_opus_loop() -> None:
    packets = idle_packets()
    assert len(packets) == 50 and all(0 < len(p) < 400 for p in packets)
    assert idle_packets() is packets


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


def _is_vp8_keyframe(data: bytes) -> bool:
    return len(data) > 0 and data[0] & 1 == 0


async def test_own_vp8_encoder_sends_keyframes_first_and_on_request() -> None:
    from heygen_streaming.emulator.rtc_private import watch_keyframe_requests

    class FakeSender:
        requests = 0

        def _send_keyframe(self) -> None:
            self.requests += 1

    state = AvatarState(quality="low")
    track = AvatarVideoTrack(state)
    track.encode_vp8()
    sender = FakeSender()
    assert watch_keyframe_requests(sender, track.request_keyframe)
    try:
        first = [bytes(await track.recv()) for _ in range(3)]
        assert [_is_vp8_keyframe(p) for p in first] == [True, False, False]
        sender._send_keyframe()  # what aiortc does on PLI/FIR
        assert sender.requests == 1
        assert _is_vp8_keyframe(bytes(await track.recv()))
        assert not _is_vp8_keyframe(bytes(await track.recv()))
    finally:
        track.stop()
    assert not watch_keyframe_requests(object(), track.request_keyframe)


def test_own_vp8_encoder_sends_periodic_keyframes() -> None:
    from heygen_streaming.emulator.avatar.encoder import FastVp8Encoder

    state = AvatarState(quality="low")
    track = AvatarVideoTrack(state)
    encoder = FastVp8Encoder(state.width, state.height, keyframe_interval=5)
    flags = []
    for i in range(16):
        data = encoder.encode(track.render(i), keyframe=(i == 7))  # 7: a PLI restarts it
        flags.append(_is_vp8_keyframe(data))
    assert [i for i, key in enumerate(flags) if key] == [0, 5, 7, 12]
    track.encode_vp8(keyframe_interval=50)  # 2 s at 25 fps, what a session without PLI gets
    keys = [_is_vp8_keyframe(track._encoded(i, False)[0]) for i in range(101)]
    assert [i for i, key in enumerate(keys) if key] == [0, 50, 100]
    track.stop()
    with pytest.raises(ValueError):
        FastVp8Encoder(64, 64, keyframe_interval=-1)


def test_own_vp8_encoder_does_not_keep_recoding_a_static_picture() -> None:
    # With static-thresh 1 libvpx spent spare CBR bits re-coding the unchanged backdrop
    # every frame: 4.4x these bytes, and 1.3-1.5x the encode time of a live session.
    from heygen_streaming.emulator.avatar.encoder import FastVp8Encoder

    renderer = AvatarRenderer(640, 360)
    encoder = FastVp8Encoder(640, 360)
    sizes = []
    for i in range(50):  # one keyframe interval
        frame = renderer.render_pose(Pose())
        frame.pts, frame.time_base = i * 3600, fractions.Fraction(1, 90_000)
        sizes.append(len(encoder.encode(frame)))
    assert sum(sizes[1:]) < 30_000
