"""Every example in examples/ runs against the emulator and does what it says."""

from __future__ import annotations

import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import av
import pytest

from _env import URL_RE, clean_env

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
KEY = "examples-test-key-8c2a"


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    """An emulator process shared by the examples (faster than one embedded in each)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "heygen_streaming", "emulator", "--port", "0", "--api-key", KEY],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
        env=clean_env(),
    )
    assert proc.stdout is not None
    url = None
    deadline = time.monotonic() + 30
    while url is None and (left := deadline - time.monotonic()) > 0:
        if not select.select([proc.stdout], [], [], left)[0]:
            break
        line = proc.stdout.readline()
        if not line:
            break
        if match := URL_RE.search(line):
            url = match.group(0).rstrip("/")
    if url is None:
        proc.kill()
        proc.wait(10)
        pytest.fail("the emulator did not print its URL")
    yield url
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    proc.stdout.close()


def run_example(
    name: str, *args: str, cwd: Path, url: str | None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    env = clean_env(HEYGEN_BASE_URL=url, HEYGEN_API_KEY=KEY) if url else clean_env()
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--quality", "low", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result


def number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match is not None, f"{pattern!r} not in {text!r}"
    return float(match.group(1))


@pytest.mark.timeout(120)
def test_speak_and_record_with_its_own_embedded_emulator(tmp_path: Path) -> None:
    result = run_example(
        "speak_and_record.py", "--text", "Short test.", "--out", "clip.mp4", cwd=tmp_path, url=None
    )
    assert "embedded emulator" in result.stderr  # nothing configured: it made its own
    assert "wrote clip.mp4" in result.stdout
    with av.open(str(tmp_path / "clip.mp4")) as container:
        assert sorted(s.type for s in container.streams) == ["audio", "video"]
        assert sum(1 for _ in container.decode(video=0)) > 5


@pytest.mark.timeout(120)
def test_frames_to_numpy_saves_png_and_speech_is_louder(emulator: str, tmp_path: Path) -> None:
    result = run_example("frames_to_numpy.py", "--png", "snap.png", cwd=tmp_path, url=emulator)
    assert "video frame 640x360 uint8" in result.stdout
    with av.open(str(tmp_path / "snap.png")) as container:
        frame = next(container.decode(video=0))
        assert (frame.width, frame.height) == (640, 360)
    idle = number(r"idle audio level (-?[\d.]+) dBFS", result.stdout)
    speech = number(r"speech audio level (-?[\d.]+) dBFS", result.stdout)
    assert speech > idle + 10


@pytest.mark.timeout(120)
def test_interrupt_cuts_the_speech(emulator: str, tmp_path: Path) -> None:
    result = run_example("interrupt.py", "--after", "0.5", cwd=tmp_path, url=emulator)
    total = number(r"speaking task \S+: ([\d.]+) s of speech", result.stdout)
    heard = number(r"interrupted after ([\d.]+) s of speech", result.stdout)
    quiet_ms = number(r"audio quiet (\d+) ms later", result.stdout)
    assert total > 5  # a long text...
    assert heard >= 0.5
    assert quiet_ms / 1000 < total - heard  # ...cut well before its end


@pytest.mark.timeout(150)
def test_many_sessions_all_receive_frames(emulator: str, tmp_path: Path) -> None:
    result = run_example(
        "many_sessions.py", "--sessions", "3", "--seconds", "1", cwd=tmp_path, url=emulator
    )
    rows = [line for line in result.stdout.splitlines() if re.match(r"\s+\d+\s+\S+", line)]
    assert len(rows) == 3
    assert len({row.split()[1] for row in rows}) == 3  # three distinct sessions
    assert all(int(row.split()[-1]) > 0 for row in rows)
    assert "3 sessions" in result.stdout


@pytest.mark.timeout(120)
def test_relay_to_browser_check_mode(emulator: str, tmp_path: Path) -> None:
    result = run_example("relay_to_browser.py", "--check", cwd=tmp_path, url=emulator)
    match = re.search(
        r"relay check ok: (\d+) video frames \((\d+)x(\d+)\), (\d+) audio", result.stdout
    )
    assert match is not None, result.stdout
    video, width, height, audio = map(int, match.groups())
    assert video >= 30 and audio >= 50
    assert (width, height) == (640, 360)


@pytest.mark.timeout(120)
def test_realtime_record_streams_text_and_records_the_clip(emulator: str, tmp_path: Path) -> None:
    result = run_example("realtime_record.py", "--out", "rt.mp4", cwd=tmp_path, url=emulator)
    words = re.findall(r"^\s*([\d.]+) s  (\S+)$", result.stdout, re.M)
    assert [w for _, w in words][:2] == ["Hello", "!"]
    assert [w for _, w in words][-3:] == ["language", "model", "."]  # every delta was spoken
    starts = [float(t) for t, _ in words]
    assert starts == sorted(starts)
    assert re.search(r"ended \(final_marker\); recorded ([\d.]+) s", result.stdout)
    assert "wrote rt.mp4" in result.stdout
    recorded = number(r"recorded ([\d.]+) s", result.stdout)
    assert recorded >= starts[-1]
    with av.open(str(tmp_path / "rt.mp4")) as container:
        assert sorted(s.type for s in container.streams) == ["audio", "video"]
