"""The ``heygen-streaming`` command, run as a user would: in subprocesses, over loopback."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from _env import URL_RE, clean_env
from heygen_streaming import StreamingClient
from heygen_streaming._cli_progress import Progress, format_report, jsonable
from heygen_streaming.cli import build_parser, main

KEY = "cli-test-key-5d1f0b7e"


def cli(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m heygen_streaming ARGS`` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "heygen_streaming", *args],
        cwd=cwd,
        env=env if env is not None else clean_env(),
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def read_line_matching(stream: Any, pattern: re.Pattern[str], timeout: float) -> str:
    """Read lines from a pipe until one matches ``pattern`` (fails after ``timeout``)."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([stream], [], [], left)
        if not ready:
            break
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if pattern.search(line):
            return line
    raise AssertionError(f"no line matching {pattern.pattern!r} in {seen!r}")


def start_emulator(*extra: str) -> tuple[subprocess.Popen[str], str]:
    """``heygen-streaming emulator --port 0`` in the background; returns it and its URL."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "heygen_streaming",
            "emulator",
            "--port",
            "0",
            "--api-key",
            KEY,
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
        env=clean_env(),
    )
    try:
        line = read_line_matching(proc.stdout, URL_RE, timeout=30)
    except BaseException:
        proc.kill()
        proc.wait(10)
        raise
    match = URL_RE.search(line)
    assert match is not None
    return proc, match.group(0).rstrip("/")


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    """One emulator process shared by the tests of this module; yields its base URL."""
    proc, url = start_emulator()
    yield url
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def served(url: str, **extra: str) -> dict[str, str]:
    """Environment pointing the CLI at the shared emulator."""
    return clean_env(HEYGEN_BASE_URL=url, HEYGEN_API_KEY=KEY, **extra)


def list_ids(url: str) -> list[str]:
    async def go() -> list[str]:
        async with StreamingClient(api_key=KEY, base_url=url) as client:
            return [s.session_id for s in await client.list_sessions()]

    return asyncio.run(go())


def new_session_id(url: str) -> str:
    async def go() -> str:
        async with StreamingClient(api_key=KEY, base_url=url) as client:
            return (await client.new_session(quality="low")).session_id

    return asyncio.run(go())


def probe(path: Path) -> dict[str, Any]:
    """Stream kinds, duration and decoded video frames of a media file."""
    with av.open(str(path)) as container:
        kinds = sorted(s.type for s in container.streams)
        duration = (container.duration or 0) / av.time_base
        frames = sum(1 for _ in container.decode(video=0))
    return {"kinds": kinds, "duration": duration, "video_frames": frames}


def assert_one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("heygen-streaming: error: ")
    return lines[0]


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
    result = cli("demo", "--out", "d.webm", cwd=tmp_path, env=served(emulator), timeout=110)
    assert result.returncode == 0, result.stderr
    assert "demo: wrote d.webm" in result.stdout
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
    seconds = json.loads(rec.stdout)["seconds"]  # what was recorded
    info = probe(tmp_path / "r.mp4")
    assert info["kinds"] == ["audio", "video"]
    assert 0.5 < info["duration"] < 5
    assert seconds == pytest.approx(info["duration"], abs=0.3)
    assert list_ids(emulator) == []  # every command stopped its session


@pytest.mark.timeout(90)
def test_chat_speaks_each_line_until_eof(emulator: str) -> None:
    result = cli("chat", "--no-wait", env=served(emulator), stdin="hello\n\nsecond line\n")
    assert result.returncode == 0, result.stderr
    spoken = [line for line in result.stdout.splitlines() if line.startswith("spoke task")]
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


@pytest.mark.timeout(60)
def test_unspeakable_text_is_rejected_before_any_session() -> None:
    server, url = start_emulator("--fault", "new=500x10")  # a session would fail loudly
    try:
        for args in (["speak", ""], ["speak", "x" * 10_001], ["demo", "--text", " "]):
            line = assert_one_line_error(cli(*args, env=served(url)))
            assert "text is" in line and "HTTP 500" not in line
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(15)


@pytest.mark.timeout(90)
def test_ctrl_c_with_an_unconfirmed_stop_names_the_session_and_the_command() -> None:
    server, url = start_emulator("--fault", "stop=delay:60")
    proc = subprocess.Popen(
        [sys.executable, "-m", "heygen_streaming", "chat"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=served(url),
    )
    try:
        line = read_line_matching(proc.stderr, re.compile(r"connected \(session "), timeout=60)
        session_id = line.split("session ", 1)[1].split(")", 1)[0]
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)  # the stop is bounded by stop_timeout
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        server.send_signal(signal.SIGTERM)
        server.wait(15)
    assert proc.returncode == 130
    assert f"heygen-streaming sessions stop {session_id}" in err
    assert err.rstrip().endswith("interrupted")


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

    # already stopped: the user's intent holds, so it is a success (with a note)
    again = cli("sessions", "stop", session_id, env=served(emulator))
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"stopped {session_id}"
    assert "already stopped" in again.stderr


@pytest.mark.timeout(90)
def test_record_and_speak_exit_1_when_the_server_ends_the_session(tmp_path: Path) -> None:
    proc, url = start_emulator("--duration-limit", "3")
    try:
        started = time.monotonic()
        out = tmp_path / "cut.mp4"
        record = cli("record", "--seconds", "30", "--out", str(out), "--json", env=served(url))
        assert time.monotonic() - started < 25  # it stopped waiting when the session ended
        line = assert_one_line_error(record)
        assert "ended before the command finished (remote-closed)" in line
        report = json.loads(record.stdout)
        assert 0.5 < report["seconds"] < 5  # what was recorded, not the 30 requested
        assert probe(out)["duration"] == pytest.approx(report["seconds"], abs=0.5)

        speak = cli("speak", "word " * 2000, "--out", str(tmp_path / "s.mp4"), env=served(url))
        assert "remote-closed" in assert_one_line_error(speak)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)


HOSTILE = "\x1b[2J\x1b]0;owned\x07id\u202e"


@contextlib.contextmanager
def serve_session_list(*sessions: dict[str, Any]) -> Iterator[str]:
    """A server whose every answer is a ``streaming.list`` of ``sessions``; yields its URL."""
    import http.server
    import threading

    payload = {"code": 100, "message": "success", "data": {"sessions": list(sessions)}}
    body = json.dumps(payload).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def hostile_server() -> Iterator[str]:
    """A session list with terminal escapes in its text."""
    with serve_session_list({"session_id": HOSTILE, "status": "\x1b[31mred\r\nfake"}) as url:
        yield url


def test_an_impossible_created_at_is_shown_as_sent() -> None:
    with serve_session_list({"session_id": "far", "created_at": 1e20}) as url:
        result = cli("sessions", "list", env=clean_env(HEYGEN_BASE_URL=url, HEYGEN_API_KEY=KEY))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["far", "created_at=1e+20"]


def test_server_text_is_printed_without_control_characters(hostile_server: str) -> None:
    result = cli(
        "sessions", "list", env=clean_env(HEYGEN_BASE_URL=hostile_server, HEYGEN_API_KEY=KEY)
    )
    assert result.returncode == 0, result.stderr
    printed = result.stdout + result.stderr
    assert "\x1b" not in printed and "\x07" not in printed and "\u202e" not in printed
    assert result.stdout.count("\n") == 1 and "id" in result.stdout and "red fake" in result.stdout
    assert "\x1b" not in format_report({"task_id": HOSTILE, "ids": [HOSTILE]})


def test_sessions_needs_a_key() -> None:
    line = assert_one_line_error(cli("sessions", "list"))
    assert "HEYGEN_API_KEY" in line


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
    for args, words in (
        (["demo", "--out", "missing/x.mp4"], "does not exist"),
        (["record", "--out", "x.avi"], "cannot record to '.avi'"),
    ):
        line = assert_one_line_error(cli(*args, cwd=tmp_path, env=served(emulator)))
        assert words in line
    assert list_ids(emulator) == []
