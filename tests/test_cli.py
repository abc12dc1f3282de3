"""The ``heygen-streaming`` command, run as a user would: in subprocesses, over loopback."""

from __future__ import annotations

import argparse
import asyncio
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
from typing import Any, ClassVar

import av
import httpx
import pytest

from _env import URL_RE, clean_env
from heygen_streaming import StreamingClient, _cli_commands
from heygen_streaming._cli_progress import Progress, clean_text, format_report, jsonable
from heygen_streaming.cli import build_parser, main

KEY = "cli-test-key-5d1f0b7e"
AIORTC_CONNECT_NOISE = re.compile(
    r"[^\n]*ERROR asyncio: Task exception was never retrieved\n.*?"
    r"InvalidStateError: RTCIceTransport is closed\n",
    re.S,
)


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


# -- a newcomer's CLI: defaults, phases, -v, errors that say what to check ---------------


def _parsers(parser: argparse.ArgumentParser, prefix: str = "") -> Iterator[tuple[str, Any]]:
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, f"{prefix} {name}".strip())


def test_every_help_shows_the_defaults() -> None:
    from heygen_streaming.emulator.__main__ import build_parser as emulator_parser

    parsers = [*_parsers(build_parser()), ("emulator", emulator_parser())]
    checked = 0
    for name, parser in parsers:
        for action in parser._actions:
            trivial = (None, "", [], argparse.SUPPRESS)
            if not action.option_strings or action.nargs == 0 or action.default in trivial:
                continue  # positionals and flags have no value to default
            text = parser.formatter_class(parser.prog)._get_help_string(action)
            assert "default" in (text or ""), f"{name} {action.option_strings}"
            shown = " ".join(parser.format_help().split())
            assert " ".join(str(action.default).split()) in shown or (
                "%(default)" not in (text or "")
            ), f"{name} {action.option_strings}"
            checked += 1
    assert checked > 15
    record_help = " ".join(_parsers_help("record").split())
    assert "(default: 5.0)" in record_help and "(default: recording.mp4)" in record_help


def _parsers_help(command: str) -> str:
    return dict(_parsers(build_parser()))[command].format_help()


def test_cli_choices_are_the_sdk_enums() -> None:
    from heygen_streaming import Quality, TaskType
    from heygen_streaming.cli import QUALITIES, TASK_TYPES

    assert tuple(q.value for q in Quality) == QUALITIES
    assert tuple(t.value for t in TaskType) == TASK_TYPES


class RecordingProgress(Progress):
    """Progress that keeps every instance, so a test can read the phases it went through."""

    made: ClassVar[list[RecordingProgress]] = []

    def __init__(self, label: str, **kwargs: Any) -> None:
        super().__init__(label, **kwargs)
        self.made.append(self)


@pytest.mark.timeout(120)
def test_progress_names_each_phase_and_the_totals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("HEYGEN_API_KEY", "HEYGEN_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    RecordingProgress.made = []
    monkeypatch.setattr(_cli_commands, "Progress", RecordingProgress)
    monkeypatch.chdir(tmp_path)
    assert main(["record", "--seconds", "0.5", "--out", "r.mp4", "-q"]) == 0
    assert main(["demo", "--out", "d.mp4", "-q", "--text", "Hi."]) == 0
    record, demo = RecordingProgress.made
    assert record.phases == ["connecting", "recording", "stopping"]
    assert re.search(r"record: stopping .* 0\.5 of 0\.5 s  video \d+ frames", record.line())
    assert demo.phases == ["connecting", "speaking", "stopping"]
    line = demo.line()
    assert line.startswith("demo: stopping") and re.search(r"video \d+ frames", line)
    assert "audio" in line
    assert "record: wrote r.mp4" in capsys.readouterr().out


@pytest.mark.timeout(90)
def test_verbose_logs_http_calls_and_states_not_packets(emulator: str) -> None:
    result = cli("speak", "Hi.", "-v", env=served(emulator))
    assert result.returncode == 0, result.stderr
    err = result.stderr
    for endpoint in ("new", "start", "task", "stop"):
        assert re.search(rf"POST streaming\.{endpoint} -> 200 in [\d.]+ ms", err), endpoint
    assert re.search(r"session \S+ connected", err)  # a state change, at INFO
    assert " aiortc" not in err and " aioice" not in err
    assert KEY not in err


def test_connection_error_names_the_url_with_a_hint() -> None:
    url = "http://127.0.0.1:9"  # discard port: nothing listens
    line = assert_one_line_error(cli("sessions", "list", "--api-key", "k", "--base-url", url))
    assert url in line and ("--base-url" in line or "HEYGEN_BASE_URL" in line)


@pytest.mark.timeout(60)
def test_404_from_a_base_url_with_v1_says_to_drop_it(emulator: str) -> None:
    result = cli("sessions", "list", "--api-key", KEY, "--base-url", emulator + "/v1")
    line = assert_one_line_error(result)
    assert f"{emulator}/v1" in line and f"use the service root, e.g. {emulator})" in line


def test_server_text_is_stripped_of_terminal_escapes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    respx = pytest.importorskip("respx")
    hostile = "bad\x1b[2J\x1b]0;pwned\x07 thing\r\nsecond\x9b line"
    base = "http://hostile.invalid"
    with respx.mock(assert_all_called=False) as mock:
        mock.route(url=f"{base}/v1/streaming.list").respond(
            200, json={"code": 100, "data": {"sessions": [{"session_id": hostile}]}}
        )
        mock.post(f"{base}/v1/streaming.stop").respond(
            400, json={"code": 400100, "message": hostile}
        )
        assert main(["sessions", "list", "--api-key", "k", "--base-url", base]) == 0
        assert main(["sessions", "stop", "x", "--api-key", "k", "--base-url", base]) == 1
    out, err = capsys.readouterr()
    for text in (out, err):
        assert "\x1b" not in text and "\x07" not in text and "\r" not in text
        assert "\x9b" not in text
    assert "bad thing" in out and "bad" in err
    assert len(err.strip().splitlines()) == 1


def test_clean_text() -> None:
    assert clean_text("a\x1b[31mred\x1b[0m\tb\x00") == "ared b"
    assert clean_text("key=sk-1 ok", secret="sk-1") == "key=*** ok"


@pytest.mark.timeout(90)
def test_crlf_api_key_works_and_is_never_printed(emulator: str) -> None:
    crlf = clean_env(HEYGEN_BASE_URL=emulator, HEYGEN_API_KEY=KEY + "\r\n")
    ok = cli("sessions", "list", env=crlf)
    assert ok.returncode == 0, ok.stderr
    bad = "crlf-secret-7f3a"
    env = clean_env(HEYGEN_BASE_URL=emulator, HEYGEN_API_KEY=bad + "\r\n")
    for args in (["sessions", "list"], ["speak", "hi"]):
        result = cli(*args, env=env)
        assert_one_line_error(result)
        assert bad not in result.stdout + result.stderr


@pytest.mark.timeout(120)
def test_session_ended_by_the_server_exits_1_with_the_reason(tmp_path: Path) -> None:
    proc, url = start_emulator("--duration-limit", "2")
    long_text = "This sentence is long enough to outlast the session's two seconds. " * 4
    try:
        result = cli("record", "--seconds", "30", "--out", "r.mp4", cwd=tmp_path, env=served(url))
        spoke = cli("speak", long_text, env=served(url))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        if proc.stdout is not None:
            proc.stdout.close()
    line = assert_one_line_error(result)
    assert "ended" in line and "remote-closed" in line, line
    assert (tmp_path / "r.mp4").stat().st_size > 0  # what was recorded is kept
    line = assert_one_line_error(spoke)
    assert "ended" in line and "remote-closed" in line, line


def _interrupt_twice(url: str, tmp_path: Path) -> tuple[int, str, str]:
    """Run ``demo -v``, press Ctrl-C twice once the session is started; (rc, id, stderr)."""
    before = set(list_ids(url))
    proc = subprocess.Popen(
        [sys.executable, "-m", "heygen_streaming", "demo", "-v", "--out", "d.mp4"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=served(url, PYTHONFAULTHANDLER="1"),
    )
    try:
        assert proc.stderr is not None
        read_line_matching(proc.stderr, re.compile(r"POST streaming\.start -> 200"), timeout=60)
        (session_id,) = set(list_ids(url)) - before
        proc.send_signal(signal.SIGINT)
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)  # faulthandler: every thread's stack on stderr
            _, err = proc.communicate(timeout=10)
            raise AssertionError(f"the CLI hung after a double Ctrl-C:\n{err[-6000:]}") from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    return proc.returncode, session_id, err


@pytest.mark.timeout(120)
def test_double_ctrl_c_still_stops_the_session(emulator: str, tmp_path: Path) -> None:
    rc, session_id, err = _interrupt_twice(emulator, tmp_path)
    assert rc == 130, err
    assert session_id not in list_ids(emulator)
    # Known SDK bug (not the CLI's, reported): closing the peer while aiortc still connects
    # leaves aiortc's own connect task failed and unretrieved, which asyncio logs.
    err = AIORTC_CONNECT_NOISE.sub("", err)
    assert "Traceback" not in err, err
    assert "sessions stop" not in err, err


@pytest.mark.timeout(120)
def test_double_ctrl_c_names_a_session_whose_stop_is_not_confirmed(tmp_path: Path) -> None:
    proc, url = start_emulator("--fault", "stop=delay:60")  # every stop hangs
    try:
        rc, session_id, err = _interrupt_twice(url, tmp_path)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        if proc.stdout is not None:
            proc.stdout.close()
    assert rc == 130, err
    assert f"heygen-streaming sessions stop {session_id}" in err


@pytest.mark.timeout(90)
def test_emulator_verbose_is_not_flooded_by_aiortc(tmp_path: Path) -> None:
    log = tmp_path / "emulator.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "heygen_streaming", "emulator", "--port", "0", "-v",
             "--api-key", KEY],
            stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, text=True,
            env=clean_env(),
        )  # fmt: skip
        try:
            line = read_line_matching(proc.stdout, URL_RE, timeout=30)
            match = URL_RE.search(line)
            assert match is not None
            spoke = cli("speak", "Hi.", env=served(match.group(0).rstrip("/")))
            assert spoke.returncode == 0, spoke.stderr
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(15)
            if proc.stdout is not None:
                proc.stdout.close()
    text = log.read_text()
    assert "DEBUG" in text  # -v still means debug logging...
    assert ":aiortc" not in text and ":aioice" not in text  # ...but not per packet
