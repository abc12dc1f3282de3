"""The ``heygen-streaming`` command, run as a user would: in subprocesses, over loopback."""

from __future__ import annotations

import asyncio
import io
import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from _cli import (
    KEY,
    assert_one_line_error,
    cli,
    list_ids,
    new_session_id,
    probe,
    read_line_matching,
    serve_emulator,
    served,
    start_emulator,
)
from _env import clean_env
from heygen_streaming.cli import build_parser, main
from heygen_streaming.cli.progress import Progress, format_report, jsonable


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    """One emulator process shared by the tests of this module; yields its base URL."""
    yield from serve_emulator()


# -- the main job ------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_demo_on_embedded_emulator_writes_video_and_json_report(tmp_path: Path) -> None:
    out = tmp_path / "tmp" / "x.mp4"
    out.parent.mkdir()
    result = cli("demo", "--out", "tmp/x.mp4", "--quiet", "--json", cwd=tmp_path, timeout=110)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # --quiet: no notes, no progress
    report = json.loads(result.stdout)  # stdout holds exactly one JSON document
    assert report["emulator"] is True
    assert report["out"] == str(out)
    assert report["bytes"] == out.stat().st_size > 0
    assert report["video_frames"] > 0 and report["audio_frames"] > 0
    assert report["first_frame_ms"] > 0
    assert report["speech_ms"] > 0 and report["task_id"]
    assert report["video_size"] == "640x360"  # the default quality is low
    assert report["stats"]["video"]["packets_received"] > 0
    assert report["stats"]["audio"]["packets_received"] > 0
    info = probe(out)
    assert info["kinds"] == ["audio", "video"]
    assert info["video_frames"] > 10
    assert info["duration"] > 0.5


@pytest.mark.timeout(120)
def test_demo_human_report_and_key_never_printed(emulator: str, tmp_path: Path) -> None:
    result = cli(
        "demo", "--out", "d.webm", "--base-url", emulator, cwd=tmp_path, env=served(emulator),
        timeout=110,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "demo: wrote d.webm" in result.stdout
    assert "emulator: False" in result.stdout  # --base-url: the served one, not embedded
    assert "first frame ms:" in result.stdout
    assert KEY not in result.stdout + result.stderr
    assert probe(tmp_path / "d.webm")["kinds"] == ["audio", "video"]


@pytest.mark.timeout(120)
def test_speak_and_record_against_a_served_emulator(emulator: str, tmp_path: Path) -> None:
    spoke = cli(
        "speak", "Hi there", "--out", "s.mp4", "--json", "-q", cwd=tmp_path, env=served(emulator)
    )
    assert spoke.returncode == 0, spoke.stderr
    report = json.loads(spoke.stdout)
    assert report["emulator"] is False and report["speech_ms"] > 0
    assert probe(tmp_path / "s.mp4")["kinds"] == ["audio", "video"]

    rec = cli(
        "record", "--seconds", "1", "--out", "r.mp4", "--json", cwd=tmp_path, env=served(emulator)
    )
    assert rec.returncode == 0, rec.stderr
    recorded = json.loads(rec.stdout)
    assert recorded["requested_seconds"] == 1.0
    assert 0.5 < recorded["seconds"] < 1.6  # what was recorded (RecordingInfo.duration)
    info = probe(tmp_path / "r.mp4")
    assert info["kinds"] == ["audio", "video"]
    assert 0.5 < info["duration"] < 5
    assert list_ids(emulator) == []  # every command stopped its session


@pytest.mark.timeout(90)
def test_chat_speaks_each_line_until_eof(emulator: str) -> None:
    result = cli("chat", "--no-wait", env=served(emulator), stdin="hello\n\nsecond line\n")
    assert result.returncode == 0, result.stderr
    spoken = [line for line in result.stdout.splitlines() if line.startswith("queued task")]
    assert len(spoken) == 2  # the empty line is skipped
    assert "stopped after 2 line(s)" in result.stderr


@pytest.mark.timeout(90)
def test_chat_json_lines_and_log_level(emulator: str) -> None:
    result = cli(
        "chat", "--no-wait", "--json", "--log-level", "info", env=served(emulator), stdin="hi\n"
    )
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert json.loads(line)["task_id"]
    assert "INFO heygen_streaming" in result.stderr  # --log-level reaches the library logger
    assert KEY not in result.stderr


@pytest.mark.timeout(90)
def test_chat_ctrl_c_stops_the_session_cleanly(emulator: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "heygen_streaming", "chat"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=served(emulator),
    )
    try:
        line = read_line_matching(proc.stderr, re.compile(r"connected \(session "), timeout=60)
        session_id = line.split("session ", 1)[1].split(")", 1)[0]
        assert session_id in list_ids(emulator)
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    assert rc == 130
    assert session_id not in list_ids(emulator)


# -- the emulator subcommand -------------------------------------------------------------


@pytest.mark.timeout(60)
def test_emulator_subcommand_prints_url_serves_and_exits_0_on_sigterm() -> None:
    proc, url = start_emulator()
    try:
        assert url.startswith("http://127.0.0.1:")
        reply = httpx.post(f"{url}/v1/streaming.list", headers={"X-Api-Key": KEY}, json={})
        assert reply.status_code == 200
        assert reply.json()["code"] == 100
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()


def test_emulator_extra_missing_gives_install_hint() -> None:
    code = (
        "import sys; sys.modules['aiohttp'] = None\n"
        "from heygen_streaming.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    for args in (["emulator", "--port", "0"], ["demo", "--quiet"]):
        result = subprocess.run(
            [sys.executable, "-c", code, *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_env(),
            check=False,
        )
        line = assert_one_line_error(result)
        assert "pip install 'heygen-streaming[emulator]'" in line


# -- sessions list / stop ----------------------------------------------------------------


@pytest.mark.timeout(60)
def test_sessions_list_and_stop(emulator: str) -> None:
    session_id = new_session_id(emulator)
    listed = cli("sessions", "list", "--json", env=served(emulator))
    assert listed.returncode == 0, listed.stderr
    ids = [s["session_id"] for s in json.loads(listed.stdout)["sessions"]]
    assert session_id in ids

    human = cli("sessions", "list", env=served(emulator))
    assert human.returncode == 0 and session_id in human.stdout

    stopped = cli("sessions", "stop", session_id, env=served(emulator))
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.strip() == f"stopped {session_id}"
    assert session_id not in list_ids(emulator)

    again = cli("sessions", "stop", session_id, env=served(emulator))
    assert again.returncode == 0, again.stderr  # already stopped: nothing is open, success
    assert again.stdout.strip() == f"{session_id} is not open (already stopped, or unknown)"
    as_json = cli("sessions", "stop", session_id, "--json", env=served(emulator))
    assert json.loads(as_json.stdout) == {"stopped": [], "not_open": [session_id]}


def test_sessions_needs_a_server() -> None:
    result = cli("sessions", "list")
    assert result.returncode == 2, result.stderr
    assert "--base-url" in result.stderr and "emulator" in result.stderr


# -- errors and usage --------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_bad_key_is_one_line_exit_1_and_never_printed(emulator: str) -> None:
    bad = "wrong-key-0b9e77c1"
    for args in (["sessions", "list"], ["speak", "hi"]):
        result = cli(*args, "--api-key", bad, "--base-url", emulator)
        line = assert_one_line_error(result)
        assert "401" in line or "unauthor" in line.lower()
        assert bad not in result.stdout + result.stderr


@pytest.mark.timeout(60)
def test_debug_shows_the_traceback(emulator: str) -> None:
    result = cli("--debug", "sessions", "list", "--api-key", "wrong", "--base-url", emulator)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "AuthenticationError" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["bogus"],
        ["demo", "--quality", "ultra"],
        ["demo", "--unknown-flag"],
        ["sessions"],
        ["sessions", "stop"],
        ["record", "--seconds", "-1"],
        ["--log-level", "loud", "demo"],
    ],
)
def test_bad_usage_exits_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    assert "usage:" in capsys.readouterr().err


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("heygen-streaming ")


def test_console_script_equals_module(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("heygen-streaming")
    if not script.exists():
        pytest.skip("console script not installed next to this interpreter")
    via_script = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    via_module = cli("--help")
    assert via_script.returncode == via_module.returncode == 0
    assert via_script.stdout == via_module.stdout


def test_global_options_work_before_and_after_the_command() -> None:
    parser = build_parser()
    before = parser.parse_args(["--json", "--quiet", "sessions", "list"])
    after = parser.parse_args(["sessions", "list", "--json", "-q"])
    assert before.json and before.quiet and after.json and after.quiet


# -- output helpers ----------------------------------------------------------------------


class FakeTTY(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.wrote = asyncio.Event()

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.wrote.set()
        return super().write(text)


@pytest.mark.timeout(10)
async def test_progress_line_is_drawn_on_a_tty_and_cleared() -> None:
    tty = FakeTTY()
    async with Progress("demo", stream=tty, delay=0, interval=0.05) as bar:
        bar.status = lambda: "video 3 frames"
        await asyncio.wait_for(tty.wrote.wait(), 5)
    text = tty.getvalue()
    assert "demo" in text and "video 3 frames" in text
    assert text.endswith("\r\x1b[2K")  # erased at the end


async def test_progress_is_silent_when_not_a_tty_or_disabled() -> None:
    pipe = io.StringIO()
    async with Progress("demo", stream=pipe, delay=0):
        await asyncio.sleep(0)
    assert pipe.getvalue() == ""
    tty = FakeTTY()
    async with Progress("demo", stream=tty, delay=0, enabled=False):
        await asyncio.sleep(0)
    assert tty.getvalue() == ""


def test_report_helpers() -> None:
    data = jsonable({"a": 1.23456, "b": [Path("x")], "nested": {"c": None}})
    assert data == {"a": 1.235, "b": ["x"], "nested": {"c": None}}
    text = format_report({"first_frame_ms": 12.34, "nested": {"x": 1}, "empty": {}})
    assert text.splitlines() == ["first frame ms: 12.3", "nested:", "  x: 1"]


@pytest.mark.timeout(60)
def test_unusable_output_is_rejected_before_any_session(emulator: str, tmp_path: Path) -> None:
    for args, words in ((["demo", "--out", "missing/x.mp4"], "does not exist"),):
        line = assert_one_line_error(cli(*args, cwd=tmp_path, env=served(emulator)))
        assert words in line
    result = cli("record", "--out", "x.avi", cwd=tmp_path, env=served(emulator))
    assert result.returncode == 2  # a name no recording can have: usage
    assert "cannot record to '.avi'" in result.stderr
    assert list_ids(emulator) == []
