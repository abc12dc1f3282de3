"""The avatar's raw-PCM player (LiveAvatar LITE): exact, gap-free, lips from the energy."""

from __future__ import annotations

import numpy as np
import pytest

from heygen_streaming.emulator.avatar import AvatarState
from heygen_streaming.emulator.avatar.pcm import LAG, BufferFull, PcmPlayer, Upsampler

CHUNK = 960  # 20 ms at 48 kHz


def pcm(signal: np.ndarray) -> bytes:
    return (np.clip(signal, -1, 1) * 32767).astype("<i2").tobytes()


def tone(seconds: float, freq: float = 440.0, rate: int = 24_000, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return amp * np.sin(2 * np.pi * freq * t)


def play(player: PcmPlayer, chunks: int) -> np.ndarray:
    return np.concatenate([player.next_chunk(CHUNK) for _ in range(chunks)])


def recorder(player: PcmPlayer) -> list[tuple[str, str, int]]:
    """Events with the output sample count at which each was reported."""
    events: list[tuple[str, str, int]] = []
    player.listener = lambda kind, event_id: events.append((kind, event_id, player.samples_played))
    return events


def test_upsampler_ignores_chunk_boundaries_and_interpolates_a_tone() -> None:
    signal = tone(0.5, 1000.0)
    whole = Upsampler().push(signal)
    up = Upsampler()
    rng = np.random.default_rng(1)
    cuts = np.sort(rng.integers(0, len(signal), 40))
    parts = [up.push(part) for part in np.split(signal, cuts)]
    assert np.array_equal(np.concatenate(parts), whole)
    expected = 0.5 * np.sin(2 * np.pi * 1000.0 * np.arange(len(whole)) / 48_000)
    got = whole[LAG:]
    error = got[200:-200] - expected[: len(got)][200:-200]
    assert np.max(np.abs(error)) < 0.01  # flat passband: no audible interpolation error


def test_chunks_of_any_size_play_back_to_back_exactly() -> None:
    signal = tone(1.0, 300.0)
    player = PcmPlayer()
    events = recorder(player)
    data = pcm(signal)
    rng = np.random.default_rng(2)
    cuts = sorted({int(c) * 2 for c in rng.integers(1, len(data) // 2, 25)})
    for part in np.split(np.frombuffer(data, np.uint8), cuts):
        player.append("speech-1", part.tobytes())
    player.commit("speech-1")
    out = play(player, 60)
    reference = Upsampler().push(np.frombuffer(data, "<i2").astype(np.float32) / 32768.0)
    assert np.allclose(out[LAG : LAG + len(reference) - LAG], reference[LAG:], atol=1e-6)
    assert [e[:2] for e in events] == [("start", "speech-1"), ("stop", "speech-1")]
    assert events[0][2] == CHUNK  # the first chunk played is the first of the speech
    assert abs(events[1][2] - 2 * len(signal)) <= CHUNK  # ends with its last sample
    assert not player.talking


def test_several_event_ids_play_without_a_gap_and_report_in_order() -> None:
    player = PcmPlayer()
    events = recorder(player)
    signal = tone(0.9, 250.0)
    thirds = np.split(signal, 3)
    for i, part in enumerate(thirds):
        player.append(f"id-{i}", pcm(part))  # a new id per chunk, as the LiveKit plugin does
    player.commit("id-2")
    out = play(player, 50)
    whole = Upsampler().push(np.frombuffer(pcm(signal), "<i2").astype(np.float32) / 32768.0)
    assert np.allclose(out[LAG : len(whole)], whole[LAG:], atol=1e-6)  # one seamless stream
    kinds = [(k, i) for k, i, _ in events]
    assert kinds == [
        ("start", "id-0"),
        ("stop", "id-0"),
        ("start", "id-1"),
        ("stop", "id-1"),
        ("start", "id-2"),
        ("stop", "id-2"),
    ]


def test_interrupt_cuts_the_speech_at_once() -> None:
    player = PcmPlayer()
    events = recorder(player)
    player.append("a", pcm(tone(2.0)))
    play(player, 5)
    assert player.talking and events == [("start", "a", CHUNK)]
    assert player.interrupt() == ["a"]
    assert not player.talking
    assert not np.any(play(player, 3))  # silence right after
    player.append("b", pcm(tone(0.1)))
    player.commit("b")
    play(player, 10)
    assert [e[:2] for e in events[1:]] == [("start", "b"), ("stop", "b")]


def test_an_uncommitted_speech_ends_after_starving() -> None:
    player = PcmPlayer(starve_timeout=0.2)
    events = recorder(player)
    player.append("x", pcm(tone(0.1)))
    play(player, 8)  # 160 ms: all played, not yet starved long enough
    assert player.talking and [e[0] for e in events] == ["start"]
    play(player, 12)
    assert [e[0] for e in events] == ["start", "stop"] and not player.talking


def test_the_buffer_is_bounded() -> None:
    player = PcmPlayer(max_buffered=1.0)
    player.append("a", pcm(tone(0.8)))
    with pytest.raises(BufferFull):
        player.append("a", pcm(tone(0.3)))
    with pytest.raises(ValueError):
        player.append("a", b"\x00")


def test_lips_follow_the_energy() -> None:
    player = PcmPlayer()
    rate = 24_000
    t = np.arange(rate * 2) / rate
    envelope = 0.12 * (1 + np.sin(2 * np.pi * 1.5 * t)) ** 2 / 4  # loud / quiet, 1.5 Hz
    player.append("e", pcm(envelope * np.sin(2 * np.pi * 200 * t)))
    player.commit("e")
    opens, levels = [], []
    for _ in range(100):
        player.next_chunk(CHUNK)
        opens.append(player.mouth.open)
        levels.append(player.level)
    ranks = [np.argsort(np.argsort(v)) for v in (opens, levels)]  # rank (Spearman) correlation
    assert np.corrcoef(*ranks)[0, 1] > 0.9
    assert max(opens) > 0.8 and min(opens[5:95]) < 0.2


def test_avatar_state_reads_the_player_only_while_it_speaks() -> None:
    state = AvatarState()
    assert state.voice() is state.speech
    state.pcm = PcmPlayer()
    assert state.voice() is state.speech
    state.pcm.append("a", pcm(tone(0.1)))
    assert state.voice() is state.pcm
