"""``heygen-streaming live``: FULL text (also from stdin) and LITE audio recorded, on the
embedded emulator and on a configured one; ``live sessions list|stop ID|stop --all``;
a double Ctrl-C still stops the session; usage mistakes exit 2. The command runs as a
child process inside ``ns_b`` (the LiveKit client needs a non-loopback address)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import wave
from pathlib import Path

import av
import httpx
import numpy as np
import pytest

from _cli import read_line_matching
from heygen_streaming.cli import main

from .conftest import AVATAR, KEY, Emu, Sdk

pytestmark = [pytest.mark.netns, pytest.mark.requires_tool("ip", package="iproute2")]


def env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HEYGEN_", "LIVEAVATAR_"))}
    return {**clean, **extra}


def live(
    sdk: Sdk, *args: str, stdin: str = "", environ: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = ["ip", "netns", "exec", sdk.net.ns_b, sys.executable, "-m", "heygen_streaming"]
    return subprocess.run(
        [*command, "live", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=90,
        env=environ if environ is not None else env(),
        check=False,
    )


def configured(emu: Emu) -> dict[str, str]:
    return env(LIVEAVATAR_API_KEY=KEY, LIVEAVATAR_BASE_URL=emu.base_url)


def active(sdk: Sdk, emu: Emu) -> list[str]:
    async def ids() -> list[str]:
        async with httpx.AsyncClient(base_url=emu.base_url) as http:
            got = await http.get("/v1/sessions?type=active", headers={"X-API-KEY": KEY})
        return [s["id"] for s in got.json()["data"]["results"]]

    return sdk.run(ids())


def check_video(path: Path) -> None:
    with av.open(str(path)) as container:
        assert container.streams.video and container.streams.audio
        assert container.duration and container.duration > 0


@pytest.mark.timeout(120)
def test_live_on_the_embedded_emulator(sdk: Sdk, tmp_path: Path) -> None:
    out = tmp_path / "full.mp4"
    done = live(sdk, "Hello from the command line.", "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["emulator"] is True and report["mode"] == "full"
    assert report["end_reason"] == "closed" and report["video_frames"] > 10
    assert "embedded emulator" in done.stderr
    check_video(out)


@pytest.mark.timeout(120)
def test_live_lite_audio_and_stdin_on_a_configured_service(
    sdk: Sdk, emu: Emu, tmp_path: Path
) -> None:
    audio = tmp_path / "speech.wav"
    with wave.open(str(audio), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        t = np.arange(44100) / 44100
        tone = (np.sin(2 * np.pi * 300 * t) * 8000).astype("<i2")
        w.writeframes(np.repeat(tone[:, None], 2, axis=1).tobytes())
    out = tmp_path / "lite.webm"
    lite = live(sdk, "--audio", str(audio), "--out", str(out), "--json", environ=configured(emu))
    assert lite.returncode == 0, lite.stderr
    assert json.loads(lite.stdout)["mode"] == "lite"
    check_video(out)
    lines = live(sdk, "-", "--json", stdin="First line.\n\nSecond line.\n", environ=configured(emu))
    assert lines.returncode == 0, lines.stderr
    report = json.loads(lines.stdout)
    assert report["emulator"] is False and report["end_reason"] == "closed"
    assert active(sdk, emu) == []


@pytest.mark.timeout(90)
def test_live_sessions_list_and_stop(sdk: Sdk, emu: Emu) -> None:
    async def orphans(count: int) -> list[str]:
        ids = []
        async with httpx.AsyncClient(base_url=emu.base_url) as http:
            for _ in range(count):
                body = {"avatar_id": AVATAR, "mode": "LITE"}
                made = await http.post("/v1/sessions/token", headers={"X-API-KEY": KEY}, json=body)
                token = made.json()["data"]["session_token"]
                started = await http.post(
                    "/v1/sessions/start", headers={"Authorization": f"Bearer {token}"}
                )
                ids.append(started.json()["data"]["session_id"])
        return ids

    ids = sdk.run(orphans(3))
    listed = live(sdk, "sessions", "list", "--json", environ=configured(emu))
    assert listed.returncode == 0, listed.stderr
    assert sorted(s["id"] for s in json.loads(listed.stdout)["sessions"]) == sorted(ids)
    one = live(sdk, "sessions", "stop", ids[0], environ=configured(emu))
    assert one.returncode == 0 and f"stopped {ids[0]}" in one.stdout
    rest = live(sdk, "sessions", "stop", "--all", "--json", environ=configured(emu))
    assert rest.returncode == 0, rest.stderr
    assert sorted(json.loads(rest.stdout)["stopped"]) == sorted(ids[1:])
    assert active(sdk, emu) == []
    human = live(sdk, "sessions", "list", environ=configured(emu))
    assert human.stdout.strip() == "no active sessions"


@pytest.mark.timeout(90)
def test_a_double_ctrl_c_still_stops_the_session(sdk: Sdk, emu: Emu) -> None:
    command = ["ip", "netns", "exec", sdk.net.ns_b, sys.executable, "-m", "heygen_streaming"]
    proc = subprocess.Popen(
        [*command, "live", "-"],  # stdin stays open: the session waits for lines
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=configured(emu),
    )
    try:
        line = read_line_matching(proc.stderr, re.compile(r"session \S+ connected"), timeout=60)
        session_id = line.split("session ", 1)[1].split(" ", 1)[0]
        assert session_id in active(sdk, emu)
        proc.send_signal(signal.SIGINT)
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
    assert session_id not in active(sdk, emu)


@pytest.mark.parametrize(
    "argv",
    [
        ["live"],
        ["live", "sessions"],
        ["live", "sessions", "kill"],
        ["live", "sessions", "stop"],
        ["live", "sessions", "stop", "abc", "--all"],
        ["live", "sessions", "list", "abc"],
        ["live", "hello", "--audio", "x.wav"],
        ["live", "hello", "--all"],
        ["live", "--audio", "/no/such.wav"],
        ["live", "hi", "--quality", "8k"],
    ],
)
def test_usage_mistakes_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "error" in capsys.readouterr().err


def test_sessions_need_a_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LIVEAVATAR_API_KEY", raising=False)
    monkeypatch.delenv("LIVEAVATAR_BASE_URL", raising=False)
    assert main(["live", "sessions", "list"]) == 1
    assert "LIVEAVATAR_API_KEY" in capsys.readouterr().err
