"""`JsonLinesProcess`: a child process (optionally inside a network namespace) that reports
JSON objects on stdout, one per line, and takes JSON commands on stdin."""

from __future__ import annotations

import json
import queue
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["JsonLinesProcess"]


class JsonLinesProcess:
    """Run ``args`` (inside namespace ``ns`` when given: ``ip netns exec NS ...``).

    Lines that are JSON objects are events (``{"event": "name", ...}``); other lines are
    kept in ``noise``. stderr goes to a file (`stderr_tail`), so a chatty child never
    blocks. Usable as a context manager (`close` terminates it).
    """

    def __init__(
        self,
        args: Sequence[str],
        *,
        ns: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        command = [*(["ip", "netns", "exec", ns] if ns else []), *args]
        self._stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115 - lives with the process
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=None if env is None else dict(env),
        )
        self.events: list[dict[str, Any]] = []
        self.noise: list[str] = []
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._pending: list[dict[str, Any]] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                event = None
            if isinstance(event, dict):
                self._queue.put(event)
            else:
                self.noise.append(line.rstrip("\n"))
        self._queue.put(None)  # stdout closed: the child exited

    def send(self, **command: Any) -> None:
        """Write ``command`` as one JSON line to the child's stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def expect(self, event: str, timeout: float = 10.0, **fields: Any) -> dict[str, Any]:
        """The next event named ``event`` whose ``fields`` match (earlier non-matching events
        stay available to later calls); AssertionError after ``timeout`` s or on exit."""
        for i, seen in enumerate(self._pending):
            if _matches(seen, event, fields):
                return self._pending.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=max(0.0, left))
            except queue.Empty:
                what = f"no {event!r} {fields} within {timeout} s"
                raise AssertionError(self._failure(what)) from None
            if item is None:
                self._queue.put(None)
                raise AssertionError(self._failure(f"exited before {event!r} {fields}"))
            self.events.append(item)
            if _matches(item, event, fields):
                return item
            self._pending.append(item)

    def _failure(self, what: str) -> str:
        seen = [e.get("event") for e in self.events][-30:]
        return f"{what}; events {seen}; exit {self.proc.poll()}; stderr:\n{self.stderr_tail()}"

    def stderr_tail(self, n: int = 4000) -> str:
        """The last ``n`` characters the child wrote to stderr."""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read()[-n:]

    def close(self, timeout: float = 10.0) -> int | None:
        """Terminate the child (SIGTERM, then SIGKILL after ``timeout`` s); its exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        self._stderr.close()
        return self.proc.returncode

    def __enter__(self) -> JsonLinesProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _matches(item: dict[str, Any], event: str, fields: Mapping[str, Any]) -> bool:
    return item.get("event") == event and all(item.get(k) == v for k, v in fields.items())
