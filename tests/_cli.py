"""Helpers of the CLI tests: run ``heygen-streaming`` in a subprocess, an emulator process
shared by a test module (`serve_emulator`, for its ``emulator`` fixture)."""

from __future__ import annotations

import asyncio
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

from _env import URL_RE, clean_env
from heygen_streaming import StreamingClient

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


def serve_emulator() -> Iterator[str]:
    """An emulator process for a test module's ``emulator`` fixture; yields its base URL."""
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


def voiced_seconds(path: Path, level: float = 0.01) -> float:
    """Seconds of a file's audio whose frames are louder than ``level`` RMS (0..1): speech is
    around -10 dBFS (0.1-0.3), the emulator's idle comfort noise ~0.0005."""
    voiced = 0.0
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            pcm = frame.to_ndarray().astype("float64").ravel()
            if pcm.size and float((pcm**2).mean()) ** 0.5 > level:
                voiced += frame.samples / frame.sample_rate
    return voiced


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """Exit code ``code`` with one ``heygen-streaming: error:`` line on stderr; returns it."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("heygen-streaming: error: ")
    return lines[0]


def assert_usage_error(result: subprocess.CompletedProcess[str]) -> str:
    """Exit code 2 (bad usage: nothing was sent) with one ``error:`` line; returns it."""
    return assert_one_line_error(result, code=2)
