"""Terminal output helpers of the ``heygen-streaming`` command: live progress line, reports."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import sys
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TextIO

from pydantic import BaseModel

from ._errors import sanitize

__all__ = ["Progress", "format_report", "jsonable", "print_json"]


class Progress:
    """A live status line on stderr (``label  3.2 s  frames 80``), redrawn a few times a second.

    It appears only once the job has run for ``delay`` seconds and only when the stream is a
    terminal, so pipes, log files and ``--json`` consumers never see it.
    """

    def __init__(
        self,
        label: str,
        *,
        enabled: bool = True,
        stream: TextIO | None = None,
        delay: float = 1.0,
        interval: float = 0.25,
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and _isatty(self.stream)
        self.delay = delay
        self.interval = interval
        self.status: Callable[[], str] | None = None
        self._start = time.monotonic()
        self._task: asyncio.Task[None] | None = None
        self._drawn = False

    @property
    def elapsed(self) -> float:
        """Seconds since the progress line was created."""
        return time.monotonic() - self._start

    def line(self) -> str:
        """The text of the status line."""
        text = f"{self.label}  {self.elapsed:5.1f} s"
        if self.status is not None:
            text += f"  {self.status()}"
        return text

    async def __aenter__(self) -> Progress:
        self._start = time.monotonic()
        if self.enabled:
            self._task = asyncio.create_task(self._run(), name="heygen-cli-progress")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
            self._task = None
        self.clear()

    def clear(self) -> None:
        """Erase the status line if it was drawn."""
        if self._drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._drawn = False

    async def _run(self) -> None:
        await asyncio.sleep(self.delay)
        while True:
            self.stream.write("\r\x1b[2K" + self.line())
            self.stream.flush()
            self._drawn = True
            await asyncio.sleep(self.interval)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def jsonable(value: Any) -> Any:
    """Turn models, dataclasses, enums and containers into plain JSON values."""
    if isinstance(value, BaseModel):
        return jsonable(value.model_dump(mode="json"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, float):
        return round(value, 3)
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


def print_json(value: Any, stream: TextIO | None = None) -> None:
    """Write ``value`` as one JSON document on stdout."""
    out = stream if stream is not None else sys.stdout
    out.write(json.dumps(jsonable(value), sort_keys=False) + "\n")
    out.flush()


def format_report(report: Mapping[str, Any], indent: str = "") -> str:
    """A compact ``key: value`` rendering of a (nested) report for humans.

    Values may come from the server: control characters and escapes are removed.
    """
    lines: list[str] = []
    for key, value in report.items():
        label = key.replace("_", " ")
        if isinstance(value, Mapping):
            if not value:
                continue
            lines.append(f"{indent}{label}:")
            lines.append(format_report(value, indent + "  "))
        elif isinstance(value, list):
            text = sanitize(", ".join(str(v) for v in value), limit=2000)
            lines.append(f"{indent}{label}: {text or '-'}")
        elif isinstance(value, float):
            lines.append(f"{indent}{label}: {value:.1f}")
        elif value is None:
            lines.append(f"{indent}{label}: -")
        else:
            lines.append(f"{indent}{label}: {sanitize(str(value), limit=2000)}")
    return "\n".join(lines)
