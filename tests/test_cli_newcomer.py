"""A newcomer's second hour with ``heygen-streaming`` (issue 19), through the real command:
piped ``chat --no-wait`` is heard, a HeyGen key is sent to what works today, ``realtime``
finds an emulator's defaults, usage mistakes exit 2, errors name the command line's own
flags, and Ctrl-C says what it kept."""

from __future__ import annotations

import http.server
import json
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from _cli import (
    KEY,
    assert_one_line_error,
    assert_usage_error,
    cli,
    list_ids,
    new_session_id,
    serve_emulator,
    served,
    start_emulator,
    voiced_seconds,
)
from _env import clean_env
from heygen_streaming.cli import build_parser

# Any HTTPS request (to api.heygen.com, say) goes to a closed local port instead: a command
# that should not reach HeyGen fails here rather than leave the machine.
NO_HEYGEN = {"HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}
DEAD_URL = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    """One emulator process shared by the tests of this module; yields its base URL."""
    yield from serve_emulator()


@pytest.fixture(scope="module")
def not_an_emulator() -> Iterator[str]:
    """A web server that is no emulator: every path answers 404, without the header."""

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(404)

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# -- 1. chat --no-wait with piped input is heard -----------------------------------------


@pytest.mark.timeout(120)
def test_piped_chat_no_wait_speaks_every_line_before_the_session_ends(
    emulator: str, tmp_path: Path
) -> None:
    lines = "Hello there my friend\nHow are you doing today?\n"
    result = cli(
        "chat", "--no-wait", "--out", "nw.mp4", cwd=tmp_path, env=served(emulator), stdin=lines
    )
    assert result.returncode == 0, result.stderr
    tasks = re.findall(r"^(spoke|queued) task \S+ \(([\d.]+) s\)$", result.stdout, re.M)
    assert len(tasks) == 2, result.stdout
    speech = sum(float(seconds) for _, seconds in tasks)
    voiced = voiced_seconds(tmp_path / "nw.mp4")
    assert voiced > 0.7 * speech, (voiced, speech)  # both lines were heard and recorded
    assert {done for done, _ in tasks} == {"queued"}  # not "spoke": it did not wait for each
    assert "waiting until the 2 queued line(s) are spoken" in result.stderr
    # Piped input gets no interactive prompt.
    assert "type a line" not in result.stderr and "speaking the lines of stdin" in result.stderr
    assert list_ids(emulator) == []


# -- 2. a HeyGen key is sent to what works today -----------------------------------------


@pytest.mark.timeout(120)
def test_demo_is_the_offline_demo_even_with_a_key_and_url_configured(tmp_path: Path) -> None:
    env = clean_env(HEYGEN_API_KEY="a-real-heygen-key", HEYGEN_BASE_URL=DEAD_URL, **NO_HEYGEN)
    result = cli("demo", "--json", "--out", "d.mp4", "--text", "Hi.", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert '"emulator": true' in result.stdout
    assert "runs offline" in result.stderr and "heygen-streaming realtime" in result.stderr
    assert "to talk to HeyGen" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [["speak", "hi"], ["record"], ["chat"], ["demo", "--base-url", "https://api.heygen.com"]],
)
def test_v1_commands_send_a_heygen_key_to_realtime_before_any_request(args: list[str]) -> None:
    result = cli(*args, env=clean_env(HEYGEN_API_KEY="a-real-heygen-key", **NO_HEYGEN))
    line = assert_usage_error(result)
    assert "retired" in line and "heygen-streaming realtime" in line
    assert "HTTP 410" in line and "--emulator" in line


@pytest.mark.timeout(60)
def test_a_v1_command_on_the_embedded_emulator_says_what_a_key_is_for(tmp_path: Path) -> None:
    result = cli("speak", "Hi.", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "set HEYGEN_API_KEY to talk to HeyGen" not in result.stderr
    assert "retired" in result.stderr and "heygen-streaming realtime" in result.stderr


@pytest.mark.timeout(60)
def test_the_410_of_a_retired_service_names_the_realtime_command() -> None:
    proc, url = start_emulator("--retired")  # answers /v1/streaming.* like HeyGen today
    try:
        line = assert_one_line_error(cli("speak", "hi", env=served(url)))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
    assert "410" in line and "heygen-streaming realtime" in line and "client.realtime()" in line


def test_help_tells_a_key_holder_what_works() -> None:
    top = " ".join(build_parser().format_help().split())
    assert "With a HeyGen key (HEYGEN_API_KEY): `realtime`" in top
    assert "retired" in top
    helps = {name: " ".join(p.format_help().split()) for name, p in _subparsers().items()}
    assert top.count("v1 (emulator)") == 4  # speak, record, chat, sessions
    for name in ("speak", "record", "chat", "sessions"):
        assert "emulator" in helps[name] and "v1" in helps[name], name
    assert "$HEYGEN_API_KEY and $HEYGEN_BASE_URL are ignored" in helps["demo"]


def _subparsers() -> dict[str, object]:
    import argparse

    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no subcommands")


# -- 5. realtime against a standalone emulator -------------------------------------------


@pytest.mark.timeout(90)
def test_realtime_on_a_standalone_emulator_needs_no_avatar_or_voice(emulator: str) -> None:
    result = cli("realtime", "Hello there", env=served(emulator))
    assert result.returncode == 0, result.stderr
    assert "said: Hello there" in result.stdout
    assert "avatar emulator-avatar, voice emulator-voice" in result.stderr


@pytest.mark.timeout(60)
def test_realtime_with_a_wrong_key_says_check_your_key(emulator: str) -> None:
    env = clean_env(HEYGEN_BASE_URL=emulator, HEYGEN_API_KEY="wrong-key-3c1d")
    line = assert_one_line_error(cli("realtime", "Hello", "-q", env=env))
    assert "401" in line and "check your key" in line and "--api-key" in line
    assert "--avatar" not in line and "wrong-key-3c1d" not in line


def test_realtime_with_a_wrong_url_says_so() -> None:
    env = clean_env(HEYGEN_BASE_URL=DEAD_URL, HEYGEN_API_KEY=KEY)
    line = assert_one_line_error(cli("realtime", "Hello", "-q", env=env))
    assert f"cannot reach {DEAD_URL}" in line and "--base-url" in line
    assert "--avatar" not in line


def test_realtime_on_a_server_that_is_no_emulator_needs_the_ids(not_an_emulator: str) -> None:
    env = clean_env(HEYGEN_BASE_URL=not_an_emulator, HEYGEN_API_KEY=KEY)
    line = assert_usage_error(cli("realtime", "Hello", env=env))
    assert "--avatar and --voice are required" in line and "not a heygen-streaming emulator" in line


# -- 7. usage mistakes exit 2 ------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["realtime"], "say something"),
        (["realtime", "  "], "say something"),
        (["realtime", "hi", "--out", "clip.webm"], ".webm"),
        (["demo", "--out", "out.avi"], "cannot record to '.avi'"),
        (["speak", ""], "text is empty"),
        (["record", "--out", "x.gif"], "cannot record to '.gif'"),
    ],
)
def test_usage_mistakes_exit_2_before_any_session(args: list[str], words: str) -> None:
    assert words in assert_usage_error(cli(*args))


def test_realtime_with_heygen_and_no_ids_is_a_usage_error() -> None:
    env = clean_env(HEYGEN_API_KEY="a-real-heygen-key", **NO_HEYGEN)
    line = assert_usage_error(cli("realtime", "hi", env=env))
    assert "--avatar and --voice are required with HeyGen" in line


# -- 9. help says what the commands accept -----------------------------------------------


def test_output_help_lists_every_accepted_extension() -> None:
    from heygen_streaming._media.writer import _FORMATS
    from heygen_streaming._realtime.hls.media import REMUX_SUFFIXES

    helps = {name: " ".join(p.format_help().split()) for name, p in _subparsers().items()}
    listed = set(re.findall(r"\.[a-z0-9]+\b", helps["realtime"].rsplit("--out OUT", 1)[1][:200]))
    assert set(REMUX_SUFFIXES) <= listed and ".webm" not in listed
    for name in ("demo", "speak", "record", "live"):
        text = helps[name].rsplit("--out OUT", 1)[1][:200]
        assert set(_FORMATS) <= set(re.findall(r"\.[a-z0-9]+\b", text)), name


@pytest.mark.timeout(60)
def test_sessions_list_json_is_what_the_docs_say(emulator: str) -> None:
    page = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text()
    documented = page.split("## `heygen-streaming sessions`", 1)[1]
    assert '`sessions list --json` prints `{"sessions": [...]}`' in documented
    assert "--json: a list" not in documented
    session_id = new_session_id(emulator)
    result = cli("sessions", "list", "--json", env=served(emulator))
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert list(listed) == ["sessions"]
    (item,) = [s for s in listed["sessions"] if s["session_id"] == session_id]
    fields = documented.split("one object per open session", 1)[1].split(")", 1)[0]
    assert re.findall(r"`(\w+)`", fields) == ["session_id", "status", "created_at"]
    assert {"session_id", "status", "created_at"} <= set(item)
    assert cli("sessions", "stop", session_id, env=served(emulator)).returncode == 0


def test_emulator_help_describes_every_api_and_how_it_stops() -> None:
    result = cli("emulator", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "v1" not in text.split("Offline emulator", 1)[0]
    for words in ("/v1/streaming.*", "/v3/avatar-realtime", "Ctrl-C (exit code 130)", "/emulator"):
        assert words in text, words
    assert "/static/v3.html" in text
    for words in ("LiveAvatar (/v1/sessions/*", "/static/liveavatar.html", "loopback"):
        assert words in text, words


# -- 10. errors name the command line's own flags ----------------------------------------


def test_a_base_url_without_a_key_names_the_flag() -> None:
    line = assert_usage_error(cli("speak", "hi", "--base-url", DEAD_URL))
    assert "--api-key" in line and "HEYGEN_API_KEY" in line
    assert "api_key=" not in line and "token=" not in line


def test_a_connection_error_names_the_base_url_flag() -> None:
    line = assert_one_line_error(cli("speak", "hi", "--base-url", DEAD_URL, "--api-key", KEY))
    assert "--base-url" in line and "base_url=" not in line


@pytest.mark.timeout(60)
def test_a_401_says_check_your_key(emulator: str) -> None:
    line = assert_one_line_error(
        cli("speak", "hi", "--base-url", emulator, "--api-key", "wrong-1f2e")
    )
    assert "check your key" in line and "wrong-1f2e" not in line


def test_every_sdk_phrase_the_cli_rewords_still_exists() -> None:
    from heygen_streaming.cli.errors import SDK_WORDS

    root = Path(__file__).resolve().parent.parent / "src" / "heygen_streaming"
    source = " ".join(
        " ".join(re.findall(r'"((?:[^"\\]|\\.)*)"', p.read_text()))
        for p in root.rglob("*.py")
        if "cli" not in p.parts
    )
    source = " ".join(source.split())
    for phrase in SDK_WORDS:
        words = phrase.split()
        # The phrase may be split over adjacent string literals: match its words in order.
        pattern = r"\s*".join(re.escape(w) for w in words)
        assert re.search(pattern, source), phrase


# -- 11. Ctrl-C says what it kept --------------------------------------------------------


@pytest.mark.timeout(120)
@pytest.mark.parametrize("command", ["demo", "realtime"])
def test_ctrl_c_says_the_partial_recording_was_kept(command: str, tmp_path: Path) -> None:
    text = "This avatar keeps talking for a long while, long enough to be interrupted. " * 6
    args = [command, text, "--out", "part.mp4"] if command == "realtime" else [
        command, "--text", text, "--out", "part.mp4"
    ]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "heygen_streaming", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=clean_env(),
    )
    out = tmp_path / "part.mp4"
    try:
        _wait_for_bytes(out, proc)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 130, err
    assert re.search(r"kept part\.mp4 \(\d+ bytes, written until Ctrl-C", err), err


def _wait_for_bytes(path: Path, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    """Until ``path`` holds media (polled: the file is the only sign the recording began)."""
    import time

    deadline = time.monotonic() + timeout
    while not (path.exists() and path.stat().st_size > 1000):
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, f"{path} never grew"
        time.sleep(0.05)


@pytest.mark.timeout(60)
def test_emulator_exits_130_on_ctrl_c() -> None:
    proc, _ = start_emulator()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(20) == 130
