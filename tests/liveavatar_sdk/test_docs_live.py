"""The LiveAvatar code in README.md, docs/liveavatar.md and docs/testing.md runs as written
against the emulator, the way a user runs it: a fresh Python process inside ``ns_b`` (the
LiveKit client sends no media over loopback), configured by ``LIVEAVATAR_BASE_URL`` /
``LIVEAVATAR_API_KEY``, in a folder holding the ``speech.wav`` the snippets name.

Before these tests the guide's FULL example raised `SessionClosed` (``s.events()`` opened
after the block) and the README's ``answer.mp4`` held three seconds of silence (recorded
after ``respond(wait=True)`` returned).
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import wave
from pathlib import Path

import numpy as np
import pytest

from _cli import voiced_seconds

from .conftest import KEY, Emu, Sdk
from .test_cli_live import env

pytestmark = [pytest.mark.netns, pytest.mark.requires_tool("ip", package="iproute2")]

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"```(\w*)\n(.*?)```", re.S)


def python_blocks(page: str, title: str) -> list[str]:
    """The Python blocks of the section ``title`` (any heading level) of ``page``."""
    text = (ROOT / page).read_text()
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#+ |\Z)", text, re.S | re.M)
    assert match is not None, f"{page}: no section {title!r}"
    return [body for lang, body in FENCE.findall(match.group(1)) if lang == "python"]


def speech_wav(folder: Path) -> None:
    """``speech.wav``: 1.5 s of a voiced tone at 22.05 kHz stereo (resampled by the SDK)."""
    rate = 22050
    t = np.arange(int(rate * 1.5)) / rate
    tone = (np.sin(2 * np.pi * 220 * t) * 9000).astype("<i2")
    with wave.open(str(folder / "speech.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.repeat(tone[:, None], 2, axis=1).tobytes())


def run(sdk: Sdk, emu: Emu, code: str, folder: Path, *args: str) -> str:
    """``code`` as a script (or ``python -m ARGS`` when given) in ``ns_b``; its stdout."""
    (folder / "snippet.py").write_text(code)
    command = [*args] if args else ["snippet.py"]
    done = subprocess.run(
        ["ip", "netns", "exec", sdk.net.ns_b, sys.executable, *command],
        cwd=folder,
        env=env(LIVEAVATAR_API_KEY=KEY, LIVEAVATAR_BASE_URL=emu.base_url),
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


@pytest.mark.timeout(120)
def test_readme_liveavatar_example(sdk: Sdk, emu: Emu, tmp_path: Path) -> None:
    (code,) = python_blocks("README.md", "LiveAvatar: an interactive avatar")
    speech_wav(tmp_path)
    run(sdk, emu, code, tmp_path)
    # the emulator's stand-in answer lasts about 2.7 s; recorded after it: silence
    assert voiced_seconds(tmp_path / "answer.mp4") > 1.5


@pytest.mark.timeout(120)
def test_guide_full_example(sdk: Sdk, emu: Emu, tmp_path: Path) -> None:
    (code,) = python_blocks("docs/liveavatar.md", "FULL mode: the service speaks")
    out = run(sdk, emu, code, tmp_path)
    assert "avatar Hello! I am a LiveAvatar." in out
    assert len(re.findall(r"^spoke \w+$", out, re.M)) == 3
    assert voiced_seconds(tmp_path / "talk.mp4") > 0.8  # "This part is recorded."


LITE_HARNESS = """
import asyncio
import numpy as np
from heygen_streaming import LiveAvatarClient

pcm_bytes = (np.sin(np.arange(44100) / 44100 * 2 * np.pi * 220) * 8000).astype("<i2")
pcm_bytes = np.repeat(pcm_bytes, 2).tobytes()                     # 1 s, stereo
numpy_float_array = (np.sin(np.arange(16000) / 16000 * 2 * np.pi * 220) * 0.3)

async def tts_stream():
    for _ in range(3):
        await asyncio.sleep(0.05)
        yield (np.sin(np.arange(4800) / 24000 * 2 * np.pi * 300) * 8000).astype("<i2").tobytes()

async def main() -> None:
    async with LiveAvatarClient() as client:
        avatar = (await client.list_avatars())[0].id
{block}
        print("lite done", s.end_reason)

asyncio.run(main())
"""


@pytest.mark.timeout(120)
def test_guide_lite_example(sdk: Sdk, emu: Emu, tmp_path: Path) -> None:
    (block,) = python_blocks("docs/liveavatar.md", "LITE mode: your audio, lip-synced")
    speech_wav(tmp_path)
    code = LITE_HARNESS.format(block=textwrap.indent(block, " " * 8))
    assert "lite done closed" in run(sdk, emu, code, tmp_path)


@pytest.mark.timeout(120)
def test_guide_backend_and_viewer_example(sdk: Sdk, emu: Emu, tmp_path: Path) -> None:
    (block,) = python_blocks("docs/liveavatar.md", "Options")
    speech_wav(tmp_path)
    code = (
        "import asyncio\nfrom heygen_streaming import LiveAvatarClient\n\n"
        f"{block}\nasyncio.run(viewer(asyncio.run(backend())))\nprint('viewer done')\n"
    )
    assert "viewer done" in run(sdk, emu, code, tmp_path)


@pytest.mark.timeout(150)
def test_testing_page_liveavatar_example(sdk: Sdk, emu: Emu, tmp_path: Path) -> None:
    # The user's pytest, with the plugin's own emulator on 127.0.0.1: inside ns_b, which
    # has an interface besides loopback, as a user's machine has.
    (tests,) = python_blocks("docs/testing.md", "Testing a LiveAvatar app")
    ini = (ROOT / "docs" / "testing.md").read_text().split("```ini\n", 1)[1].split("```", 1)[0]
    (tmp_path / "pytest.ini").write_text(ini)
    (tmp_path / "test_liveavatar_app.py").write_text(tests)
    out = run(sdk, emu, "", tmp_path, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert "2 passed" in out
