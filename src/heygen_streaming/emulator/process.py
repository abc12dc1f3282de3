"""Run the emulator CLI in a separate process (optionally behind a command prefix such as
``ip netns exec NS``), for benchmarks and tests that need a server they can kill."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from types import TracebackType

__all__ = ["EmulatorProcess"]

_URL = re.compile(r"https?://[0-9A-Za-z.\-\[\]:]+")


class EmulatorProcess:
    """``python -m heygen_streaming.emulator`` as a child process (context manager).

    ``stamp=True`` passes ``--stamp`` (frame stamps for loss/latency measurements).
    """

    def __init__(
        self,
        api_key: str,
        *,
        host: str = "127.0.0.1",
        extra_args: tuple[str, ...] = (),
        prefix: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        stamp: bool = False,
    ) -> None:
        self.api_key = api_key
        self.stamp = stamp
        self.host = host
        self.extra_args = extra_args
        self.prefix = prefix
        self.env = env
        self.base_url = ""
        self.proc: subprocess.Popen[str] | None = None
        self._stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115 - lives with the process

    @property
    def pid(self) -> int:
        """The child's process id (after `start()`)."""
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> str:
        """Start the emulator; return its base URL once it prints one."""
        cmd = [
            *self.prefix,
            sys.executable,
            "-m",
            "heygen_streaming.emulator",
            "--host",
            self.host,
            "--port",
            "0",
            "--api-key",
            self.api_key,
            *(("--stamp",) if self.stamp else ()),
            *self.extra_args,
        ]
        env = dict(os.environ, PYTHONUNBUFFERED="1", **(self.env or {}))
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=self._stderr, text=True, env=env
        )
        found: list[str] = []
        ready = threading.Event()

        def pump() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:  # keep draining so the pipe never fills
                if not found:
                    match = _URL.search(line)
                    if match:
                        found.append(match.group(0).rstrip("/"))
                        ready.set()
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        ready.wait(timeout)  # set by the URL line, or when stdout closes (the process died)
        if not found:
            self.stop()
            raise RuntimeError(f"emulator did not print its URL: {self.stderr_tail()}")
        self.base_url = found[0]
        return self.base_url

    def stderr_tail(self, n: int = 2000) -> str:
        """The last ``n`` characters the emulator wrote to stderr."""
        self._stderr.seek(0)
        return self._stderr.read()[-n:]

    def kill(self) -> None:
        """SIGKILL the emulator (simulates a crashed server)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> EmulatorProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        self._stderr.close()
