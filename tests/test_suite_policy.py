"""The suite's own skip policy: missing system tools skip with the Debian package named, and
``HEYGEN_REQUIRE_ALL=1`` (set by ``.ci/run``) turns every skip into a failure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from _env import clean_env

ROOT = Path(__file__).resolve().parent.parent
FFPROBE_TESTS = "tests/unit/test_media_recording.py::test_recorder_writes_both_streams_in_sync"


def run_pytest(*args: str, path: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m pytest ARGS`` with ``PATH`` replaced (the interpreter is given by path)."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", *args],
        cwd=ROOT,
        env=clean_env(PATH=path, **env),
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )


@pytest.mark.timeout(120)
def test_missing_tool_skips_naming_the_debian_package(tmp_path: Path) -> None:
    result = run_pytest(FFPROBE_TESTS, path=str(tmp_path))  # an empty PATH: no ffprobe
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "2 skipped" in out
    assert "`ffprobe` is not installed (Debian/Ubuntu: apt-get install ffmpeg)" in out


@pytest.mark.timeout(120)
def test_require_all_turns_a_skip_into_a_failure(tmp_path: Path) -> None:
    result = run_pytest(FFPROBE_TESTS, path=str(tmp_path), HEYGEN_REQUIRE_ALL="1")
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    summary = out.splitlines()[-1]
    assert "2 errors" in summary and "skipped" not in summary  # a skip at setup: an error
    assert "HEYGEN_REQUIRE_ALL is set" in out and "apt-get install ffmpeg" in out


def test_ci_requires_every_test_and_installs_every_tool() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    lines = [line.strip() for line in ci.splitlines()]
    assert "export HEYGEN_REQUIRE_ALL=1" in lines
    packages = ("chromium", "chromium-driver", "ffmpeg", "iproute2", "nftables", "nodejs", "npm")
    for package in packages:
        assert f"missing+=({package})" in ci, package
