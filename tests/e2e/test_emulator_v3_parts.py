"""Parts of the emulator's v3 side without a server: tokens, word-aligned synthesis,
batching, partial words across deltas, playlist fix-up."""

from __future__ import annotations

import numpy as np
import pytest

from heygen_streaming.emulator.v3.hls import fix_playlist, is_servable
from heygen_streaming.emulator.v3.script import Script, TextBufferFull
from heygen_streaming.emulator.v3.voice import SAMPLE_RATE, Speech, split_tokens
from heygen_streaming.emulator.v3.words import WordLog
from heygen_streaming.emulator.v3.worker import Word


def test_punctuation_is_its_own_token() -> None:
    assert split_tokens("Hi there — don't stop, ok?!") == [
        "Hi", "there", "—", "don't", "stop", ",", "ok", "?", "!",
    ]  # fmt: skip


def test_speech_word_spans_come_from_the_synthesiser_and_match_the_voice() -> None:
    speech = Speech("Hello there, world.").render_all()
    audio = speech.take(0, speech.total)
    words = speech.words()
    assert [w.word for w in words] == ["Hello", "there", ",", "world", "."]
    spoken = [w for w in words if w.end > w.start]
    assert [w.word for w in spoken] == ["Hello", "there", "world"]
    for word in spoken:
        assert np.sqrt(np.mean(audio[word.start : word.end] ** 2)) > 0.05
    comma = words[2]
    assert comma.start == words[1].end  # where "there" ends and the pause begins
    pause = audio[words[1].end + 480 : words[3].start - 480]  # the comma's pause, inside 10 ms
    assert pause.size > 0.05 * SAMPLE_RATE and np.sqrt(np.mean(pause**2)) < 0.01
    loud = np.flatnonzero(np.abs(audio) > 0.02)
    assert loud[0] < spoken[0].start + 0.02 * SAMPLE_RATE  # the voice starts with "Hello"
    assert abs(loud[-1] - spoken[-1].end) < 0.02 * SAMPLE_RATE  # and ends with "world"
    # Chunked takes equal one-shot; the mouth is shut in the pause, open in the words.
    chunks = np.concatenate([speech.take(i, 1920) for i in range(0, speech.total, 1920)])
    assert np.array_equal(chunks[: speech.total], audio)
    assert speech.pose_at((words[1].end + words[3].start) // 2).open == 0.0
    assert max(speech.pose_at(p).open for p in range(0, words[0].end, 480)) > 0.5


def test_word_batches_hold_at_most_ten_words_within_one_second() -> None:
    log = WordLog()
    log.add(tuple(Word(f"w{i}", i * 0.05, i * 0.05 + 0.04) for i in range(25)))
    log.add((Word("late", 3.0, 3.2),))
    log.finish({"stream_id": "s", "status": "completed", "end_reason": "final_marker"})
    sizes = [len(b) for b in log.batches]
    assert sizes == [10, 10, 5, 1]
    for batch in log.batches:
        assert batch[-1]["start"] - batch[0]["start"] < 1.0
    log2 = WordLog()
    log2.add(tuple(Word(f"w{i}", i * 0.3, i * 0.3 + 0.2) for i in range(8)))
    log2.flush()
    assert [len(b) for b in log2.batches] == [4, 4]
    assert log.end == {
        "stream_id": "s", "status": "completed", "end_reason": "final_marker", "word_count": 26,
    }  # fmt: skip
    log.add((Word("after-end", 9.0, 9.1),))
    assert log.count == 26


async def test_follow_replays_history_then_ends_once() -> None:
    log = WordLog()
    log.add((Word("a", 0.0, 0.1),))
    log.flush()
    log.finish({"stream_id": "s", "status": "completed", "end_reason": "cancelled"})
    log.finish({"stream_id": "s", "status": "error", "end_reason": None})  # ignored
    events = [event async for event in log.follow()]
    assert events == [
        (None, {"words": [{"word": "a", "start": 0.0, "end": 0.1}]}),
        ("end", {"stream_id": "s", "status": "completed", "end_reason": "cancelled",
                 "word_count": 1}),
    ]  # fmt: skip


def test_script_keeps_a_partial_word_until_it_is_complete() -> None:
    script = Script(partial_flush=3600)
    assert script.add_text("Good morn") == 9
    first = script.next_clip()
    assert first is not None and [w.word for w in first.words()] == ["Good"]
    assert script.next_clip() is None  # "morn" may continue
    script.add_text("ing, every")
    second = script.next_clip()
    assert second is not None and [w.word for w in second.words()] == ["morning", ","]
    assert not script.exhausted()
    script.add_text("one", final=True)
    third = script.next_clip()
    assert third is not None and [w.word for w in third.words()] == ["everyone"]
    assert script.exhausted() and script.buffered_bytes == len("Good morning, everyone")


def test_script_speaks_a_partial_word_when_no_more_text_comes() -> None:
    script = Script(partial_flush=0)
    script.add_text("Still waiting for the rest of this wor")
    clips = [script.next_clip(), script.next_clip(), script.next_clip()]
    words = [[w.word for w in c.words()] if c is not None else None for c in clips]
    assert words == [["Still", "waiting", "for", "the", "rest", "of", "this"], ["wor"], None]


def test_script_says_what_arrived_meanwhile_in_one_piece_and_caps_unspoken_text() -> None:
    script = Script(partial_flush=3600, max_pending=100)
    for token in ["Sure", "!", " Here", " is", " a", " short", " answer", "."]:
        script.add_text(token)
    clip = script.next_clip()  # the avatar was busy: everything that came is one clip
    assert clip is not None
    assert [w.word for w in clip.words()] == [
        "Sure",
        "!",
        "Here",
        "is",
        "a",
        "short",
        "answer",
        ".",
    ]
    with pytest.raises(TextBufferFull):
        script.add_text("x " * 60)  # 120 bytes > 100 unspoken: refused, nothing appended
    assert script.buffered_bytes == len("Sure! Here is a short answer.")
    script.add_text("y " * 40)  # fits (the first clip's text no longer counts)


def test_playlist_names_and_target_duration() -> None:
    assert (
        fix_playlist("#EXTM3U\n#EXT-X-TARGETDURATION:0\n") == "#EXTM3U\n#EXT-X-TARGETDURATION:1\n"
    )
    assert fix_playlist("#EXT-X-TARGETDURATION:2\n") == "#EXT-X-TARGETDURATION:2\n"
    for name in ("stream.m3u8", "init.mp4", "seg00012.m4s"):
        assert is_servable(name)
    for name in ("stream.m3u8.tmp", "seg00012.m4s.tmp", "seg1.m4s", "../x", "segabcde.m4s"):
        assert not is_servable(name)
