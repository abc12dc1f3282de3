"""``python -m heygen_streaming.emulator``: ready line, faults flag, clean signal shutdown."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import httpx
import pytest

from heygen_streaming.emulator.__main__ import main


def _spawn(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "heygen_streaming.emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+", line)
    assert match, f"no URL in {line!r}"
    return proc, match.group(0)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_serves_then_exits_cleanly_on_signal(sig: signal.Signals, code: int) -> None:
    proc, url = _spawn("--api-key", "cli-key", "--fault", "list=503x1", "--max-sessions", "1")
    try:
        headers = {"X-Api-Key": "cli-key"}
        with httpx.Client(base_url=url, headers=headers, timeout=10) as http:
            assert http.post("/v1/streaming.list").status_code == 503  # the injected fault
            assert http.post("/v1/streaming.list").json()["data"] == {"sessions": []}
            new = http.post("/v1/streaming.new", json={"quality": "low"}).json()
            assert new["code"] == 100 and new["data"]["sdp"]["type"] == "offer"
            limited = http.post("/v1/streaming.new", json={"quality": "low"})
            assert limited.json()["code"] == 10007
            bad = http.post("/v1/streaming.list", headers={"X-Api-Key": "other"})
            assert bad.status_code == 401
        proc.send_signal(sig)
        assert proc.wait(timeout=20) == code  # Ctrl-C: 130, as any interrupted command
        assert proc.stderr is not None
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_bad_arguments_exit_with_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--fault", "nonsense"])
    assert exc.value.code == 2
    assert "bad fault spec" in capsys.readouterr().err


def test_a_fault_on_an_unknown_endpoint_exits_2_naming_the_valid_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--port", "0", "--fault", "speak=500"]) == 2
    err = capsys.readouterr().err
    assert "unknown endpoint 'speak'" in err and "liveavatar_start" in err and "task" in err
