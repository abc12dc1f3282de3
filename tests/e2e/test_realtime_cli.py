"""``heygen-streaming realtime`` against the scripted v3 server (the CLI runs in a thread)."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from heygen_streaming.cli import main

from ._realtime_scripted import API_KEY, Clip, ScriptedRealtime, ffprobe_streams, make_clip, serve


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("cli"), "mpegts")


@pytest.fixture
async def server(clip: Clip) -> AsyncIterator[ScriptedRealtime]:
    async for s in serve(clip):
        s.publish(end=True)
        yield s


def argv(server: ScriptedRealtime, *extra: str) -> list[str]:
    return ["realtime", *extra, "--base-url", server.base_url, "--api-key", API_KEY, "--json", "-q"]


async def test_text_to_clip(
    server: ScriptedRealtime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "clip.mp4"
    code = await asyncio.wait_for(
        asyncio.to_thread(
            main, argv(server, "Hello there", "--out", str(out), "--avatar", "a", "--voice", "v")
        ),
        60,
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert server.seen.creates == [
        {"type": "tts", "avatar_id": "a", "voice_id": "v", "text": "Hello there"}
    ]
    assert report["end_reason"] == "final_marker"
    assert report["video_frames"] == server.clip.video_frames
    assert report["words"] == 3
    assert report["out"] == str(out)
    assert [s["codec"] for s in ffprobe_streams(out)] == ["h264", "aac"]
    assert server.seen.cancels == []  # completed by itself
    assert API_KEY not in json.dumps(report)


async def test_the_report_says_the_words_as_text(
    server: ScriptedRealtime, capsys: pytest.CaptureFixture[str]
) -> None:
    args = argv(server, "Hi", "--avatar", "a", "--voice", "v")
    args.remove("--json")
    assert await asyncio.wait_for(asyncio.to_thread(main, args), 60) == 0
    assert "said: Hello! Bye\n" in capsys.readouterr().out  # punctuation is a word of its own


async def test_stdin_lines_are_deltas(
    server: ScriptedRealtime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("Hello\n\nfrom stdin\nbye\n"))
    code = await asyncio.wait_for(
        asyncio.to_thread(main, argv(server, "-", "--avatar", "a", "--voice", "v")), 60
    )
    assert code == 0, capsys.readouterr().err
    assert server.seen.creates[0]["type"] == "text_stream"
    assert server.seen.creates[0]["text"] == "Hello"
    assert server.seen.appends == [
        {"delta": " from stdin", "final": False},
        {"delta": " bye", "final": False},
        {"delta": "", "final": True},
    ]


async def test_heygen_needs_avatar_and_voice(
    server: ScriptedRealtime, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await asyncio.to_thread(main, argv(server, "Hello"))
    assert code == 2  # usage: the server is no emulator (it has no /emulator to ask)
    err = capsys.readouterr().err
    assert "--avatar and --voice" in err and "not a heygen-streaming emulator" in err
    assert server.seen.creates == []


async def test_bad_output_is_rejected_before_create(
    server: ScriptedRealtime, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await asyncio.to_thread(
        main, argv(server, "Hello", "--out", "clip.gif", "--avatar", "a", "--voice", "v")
    )
    assert code == 2
    assert ".gif" in capsys.readouterr().err
    assert server.seen.creates == []


async def test_webm_is_rejected_before_create(
    server: ScriptedRealtime, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await asyncio.to_thread(
        main, argv(server, "Hello", "--out", "clip.webm", "--avatar", "a", "--voice", "v")
    )
    assert code == 2
    assert ".mp4" in capsys.readouterr().err  # H.264/AAC are copied: no WebM
    assert server.seen.creates == []


@pytest.mark.parametrize("option", ["--max-seconds", "--ready-timeout"])
async def test_bad_durations_are_usage_errors(
    server: ScriptedRealtime, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    code = await asyncio.to_thread(main, argv(server, "Hello", option, "-1"))
    assert code == 2
    assert "must be > 0" in capsys.readouterr().err
    assert server.seen.creates == []


async def test_server_words_are_printed_without_control_characters(
    server: ScriptedRealtime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.words = [[{"word": "\x1b]0;owned\x07Hi\x1b[2J", "start": 0.0, "end": 0.4}]]
    args = [a for a in argv(server, "Hello", "--avatar", "a", "--voice", "v") if a != "--json"]
    code = await asyncio.wait_for(asyncio.to_thread(main, args), 60)
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "said: Hi" in printed.out
    assert "\x1b" not in printed.out + printed.err and "\x07" not in printed.out
