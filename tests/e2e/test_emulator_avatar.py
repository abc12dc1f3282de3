"""The synthetic avatar: picture sizes, stamps, mouth motion, deterministic speech."""

from __future__ import annotations

import numpy as np
import pytest

from heygen_streaming.emulator import RESOLUTIONS, read_stamp
from heygen_streaming.emulator.avatar import AvatarState, AvatarVideoTrack, idle_packets
from heygen_streaming.emulator.speech import (
    CHAT_REPLIES,
    SpeechQueue,
    Utterance,
    chat_reply,
    estimate_duration_ms,
)


@pytest.mark.parametrize("quality", ["high", "medium", "low"])
async def test_frames_have_the_quality_size_and_a_stamp(quality: str) -> None:
    state = AvatarState(quality=quality)
    track = AvatarVideoTrack(state)
    try:
        frames = [await track.recv() for _ in range(3)]
    finally:
        track.stop()
    assert (frames[0].width, frames[0].height) == RESOLUTIONS[quality]
    assert [read_stamp(f).index for f in frames] == [0, 1, 2]  # type: ignore[union-attr]


def test_mouth_opens_while_talking() -> None:
    state = AvatarState(quality="low")
    track = AvatarVideoTrack(state)
    quiet = track.render(0).to_ndarray()
    state.speech.push(Utterance("t", "Open wide, please", 2000))
    for _ in range(5):  # a few audio chunks in, the level is up
        state.speech.next_chunk(960)
    talking = [track.render(i).to_ndarray() for i in range(1, 5)]
    h = RESOLUTIONS["low"][1]
    mouth_band = slice(int(h * 0.55), int(h * 0.75))
    assert any(not np.array_equal(quiet[mouth_band], t[mouth_band]) for t in talking)
    track.stop()


def test_speech_is_deterministic_loud_and_lasts_its_duration() -> None:
    duration = estimate_duration_ms("Hello world")
    assert duration == pytest.approx(770)
    assert estimate_duration_ms("Hi") == 500  # minimum
    assert estimate_duration_ms("Hello world", rate=1.5) == pytest.approx(770 / 1.5)
    a, b = Utterance("a", "Hello world", duration), Utterance("b", "Hello world", duration)
    chunks_a = [a.take(960) for _ in range(10)]
    assert all(np.array_equal(x, b.take(960)) for x in chunks_a)
    queue = SpeechQueue()
    idle_rms = [_rms(queue.next_chunk(960)) for _ in range(10)]
    queue.push(Utterance("c", "Hello world", duration))
    chunks = 0
    speech_rms = []
    while queue.talking:
        speech_rms.append(_rms(queue.next_chunk(960)))
        chunks += 1
    assert chunks == pytest.approx(duration / 20, abs=1)
    assert max(idle_rms) < 0.001 < 0.02 < max(speech_rms)


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
    from heygen_streaming.emulator.encoder import watch_keyframe_requests

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
    from heygen_streaming.emulator.encoder import KEYFRAME_INTERVAL, FastVp8Encoder

    assert KEYFRAME_INTERVAL == 50  # 2 s at 25 fps
    state = AvatarState(quality="low")
    track = AvatarVideoTrack(state)
    encoder = FastVp8Encoder(state.width, state.height, keyframe_interval=5)
    flags = []
    for i in range(16):
        data = encoder.encode(track.render(i), keyframe=(i == 7))  # 7: a PLI restarts it
        flags.append(_is_vp8_keyframe(data))
    assert [i for i, key in enumerate(flags) if key] == [0, 5, 7, 12]
    track.encode_vp8(keyframe_interval=0.2)  # seconds -> 5 frames at 25 fps
    keys = [_is_vp8_keyframe(track._encoded(i, False)[0]) for i in range(11)]
    assert [i for i, key in enumerate(keys) if key] == [0, 5, 10]
    track.stop()
    with pytest.raises(ValueError):
        FastVp8Encoder(64, 64, keyframe_interval=0)
