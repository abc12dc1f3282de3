"""examples/liveavatar_full.py and examples/liveavatar_lite.py run against the emulator
(inside ``ns_b``: the LiveKit client needs a non-loopback address) and do what they say."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import av
import pytest

from .conftest import KEY, Emu, Sdk
from .test_cli_live import env

pytestmark = [pytest.mark.netns, pytest.mark.requires_tool("ip", package="iproute2")]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(sdk: Sdk, name: str, *args: str, cwd: Path, emu: Emu | None) -> str:
    environ = env(LIVEAVATAR_API_KEY=KEY, LIVEAVATAR_BASE_URL=emu.base_url) if emu else env()
    done = subprocess.run(
        ["ip", "netns", "exec", sdk.net.ns_b, sys.executable, str(EXAMPLES / name), *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, f"{name}:\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done.stdout


@pytest.mark.timeout(120)
def test_full_example(sdk: Sdk, emu: Emu, tmp_path: Path) -> None:
    out = run(sdk, "liveavatar_full.py", "--out", "talk.mp4", cwd=tmp_path, emu=emu)
    assert "avatar said: Hello! I am a LiveAvatar, driven from Python." in out
    assert "user said: What can you do for me?" not in out  # FULL events: the avatar's side
    assert re.search(r"transcript: [2-9] lines", out)
    assert "session ended: closed" in out and "wrote talk.mp4" in out
    with av.open(str(tmp_path / "talk.mp4")) as container:
        assert sorted(s.type for s in container.streams) == ["audio", "video"]


@pytest.mark.timeout(120)
def test_lite_example_with_its_own_embedded_emulator(sdk: Sdk, tmp_path: Path) -> None:
    out = run(sdk, "liveavatar_lite.py", "--out", "lips.mp4", cwd=tmp_path, emu=None)
    voiced = float(re.search(r"voiced ([\d.]+) s after", out).group(1))  # type: ignore[union-attr]
    spoke = float(re.search(r"spoke for ([\d.]+) s", out).group(1))  # type: ignore[union-attr]
    cut = float(re.search(r"interrupt confirmed in (\d+) ms", out).group(1))  # type: ignore[union-attr]
    assert voiced < 1.5  # streamed: voiced long before the 2 s input ended
    assert spoke >= 1.8
    assert cut < 2000
    assert "wrote lips.mp4" in out
