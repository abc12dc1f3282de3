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


def test_browser_tests_run_webrtc_only_inside_network_namespaces() -> None:
    """libwebrtc ignores loopback: a Chromium page that runs WebRTC gets ``netns_page`` (the
    browser in a namespace the test creates), never ``browser_page`` (this machine). Only
    pages without WebRTC may use ``browser_page``."""
    import ast

    no_webrtc = {"test_v3_page_plays_hls_with_mse_and_shows_words"}  # HLS over HTTP
    on_host: set[str] = set()
    in_netns: set[str] = set()
    for path in (ROOT / "tests" / "browser").glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                args = {a.arg for a in node.args.args}
                if "browser_page" in args:
                    on_host.add(node.name)
                if "netns_page" in args:
                    in_netns.add(node.name)
    assert on_host == no_webrtc
    assert {
        "test_demo_page_plays_video_speaks_and_stops",
        "test_vendor_v1_js_flow",
        "test_heygen_js_sdk_plays_talks_interrupts_and_stops",
    } <= in_netns
