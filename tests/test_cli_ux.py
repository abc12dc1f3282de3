"""The ``heygen-streaming`` command as a newcomer meets it: defaults in every ``--help``, the
progress phases, ``-v``, errors that say what to check, server text made safe, and sessions
that end on the server or under a double Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.server
import json
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from _cli import (
    AIORTC_CONNECT_NOISE,
    KEY,
    assert_one_line_error,
    assert_usage_error,
    cli,
    list_ids,
    read_line_matching,
    serve_emulator,
    served,
    start_emulator,
)
from _env import URL_RE, clean_env
from heygen_streaming.cli import build_parser, main
from heygen_streaming.cli import run as _cli_run
from heygen_streaming.cli.progress import Progress, clean_text, format_report


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    """One emulator process shared by the tests of this module; yields its base URL."""
    yield from serve_emulator()


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
    monkeypatch.setattr(_cli_run, "Progress", RecordingProgress)
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
    assert "ended" in line and "remote_closed" in line, line
    assert (tmp_path / "r.mp4").stat().st_size > 0  # what was recorded is kept
    line = assert_one_line_error(spoke)
    assert "ended" in line and "remote_closed" in line, line


def _interrupt_twice(url: str, tmp_path: Path) -> tuple[int, str, str]:
    """Run ``demo -v``, press Ctrl-C twice once the session is started; (rc, id, stderr)."""
    before = set(list_ids(url))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "heygen_streaming",
            "demo",
            "-v",
            "--out",
            "d.mp4",
            "--base-url",
            url,
        ],
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


# -- from the issue-10 verification on main (kept after the merge) ------------------------


@pytest.mark.timeout(60)
def test_unspeakable_text_is_rejected_before_any_session() -> None:
    server, url = start_emulator("--fault", "new=500x10")  # a session would fail loudly
    try:
        for args in (["speak", ""], ["speak", "x" * 10_001], ["demo", "--text", " "]):
            line = assert_usage_error(cli(*args, env=served(url)))
            assert "text is" in line and "HTTP 500" not in line
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(15)
        if server.stdout is not None:
            server.stdout.close()


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
        _, err = proc.communicate(timeout=60)  # the stops are bounded
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        server.send_signal(signal.SIGTERM)
        server.wait(15)
        if server.stdout is not None:
            server.stdout.close()
    assert proc.returncode == 130
    assert f"heygen-streaming sessions stop {session_id}" in err
    assert "interrupted" in err


@contextlib.contextmanager
def serve_session_list(*sessions: dict[str, Any]) -> Iterator[str]:
    """A server whose every answer is a ``streaming.list`` of ``sessions``; yields its URL."""
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


def test_an_impossible_created_at_is_shown_as_sent() -> None:
    with serve_session_list({"session_id": "far", "created_at": 1e20}) as url:
        result = cli("sessions", "list", env=clean_env(HEYGEN_BASE_URL=url, HEYGEN_API_KEY=KEY))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["far", "created_at=1e+20"]


def test_session_list_text_is_printed_without_control_characters() -> None:
    hostile = "\x1b[2J\x1b]0;owned\x07id\u202e"
    with serve_session_list({"session_id": hostile, "status": "\x1b[31mred\r\nfake"}) as url:
        result = cli("sessions", "list", env=clean_env(HEYGEN_BASE_URL=url, HEYGEN_API_KEY=KEY))
    assert result.returncode == 0, result.stderr
    printed = result.stdout + result.stderr
    assert "\x1b" not in printed and "\x07" not in printed and "\u202e" not in printed
    assert result.stdout.count("\n") == 1 and "id" in result.stdout and "red fake" in result.stdout
    assert "\x1b" not in format_report({"task_id": hostile, "ids": [hostile]})


def test_teardown_reports_of_a_second_ctrl_c_are_silenced(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """asyncio's reports of the tasks a second Ctrl-C cut short (a traceback ending in
    KeyboardInterrupt, then "Task was destroyed") are dropped; any other report is kept."""
    monkeypatch.setattr(_cli_run, "_interrupted", [])
    stuck = "Task was destroyed but it is pending!"

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.call_exception_handler({"message": stuck})  # before any interrupt: kept
        for exc in (KeyboardInterrupt(), ValueError("a real failure")):
            loop.call_exception_handler(
                {"message": "Task exception was never retrieved", "exception": exc}
            )
        loop.call_exception_handler({"message": stuck})  # after the interrupt: dropped

    asyncio.run(_cli_run.quiet_teardown(_returning(main())))
    assert caplog.text.count(stuck) == 1
    assert "a real failure" in caplog.text and "KeyboardInterrupt" not in caplog.text


async def _returning(coro: Any) -> int:
    await coro
    return 0


def test_a_session_whose_id_a_second_ctrl_c_hid_is_reported() -> None:
    """A second Ctrl-C while ``streaming.new`` is answering tears the loop down before its
    answer is read: the session may exist, so the user is told how to find and stop it."""
    from heygen_streaming import StreamingClient

    client = StreamingClient(api_key="k", base_url="http://127.0.0.1:9")
    session = client.session(quality="low")
    config = _cli_run.Config(api_key="k", base_url="http://127.0.0.1:9", opening=session)

    async def cut_short() -> asyncio.Task[Any]:
        call = asyncio.ensure_future(asyncio.Event().wait())  # the call in flight
        await asyncio.sleep(0)
        call.cancel()  # as asyncio.run's teardown cancels every task
        with contextlib.suppress(asyncio.CancelledError):
            await call
        await client.aclose()
        return call

    session._core.connector.new_task = asyncio.run(cut_short())
    (line,) = _cli_run.finish_interrupted(config)
    assert "may have been created" in line and "heygen-streaming sessions list" in line
