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

from .._client import sanitize

__all__ = ["Progress", "clean_text", "format_report", "jsonable", "print_json"]


def clean_text(text: str, secret: str | None = None, *, limit: int = 2000) -> str:
    """Text made safe for one terminal line (`sanitize`: no escape sequences or control
    characters, line breaks become spaces) with ``secret`` (the API key) masked."""
    if secret:
        text = text.replace(secret, "***")
    return sanitize(text, limit=limit)


class Progress:
    """A live status line on stderr (``demo: speaking  3.2 s  video 80 frames``), redrawn a
    few times a second: the command, its current phase and the totals so far.

    It appears only once the job has run for ``delay`` seconds and only when the stream is a
    terminal, so pipes, log files and ``--json`` consumers never see it. `phases` keeps
    every phase entered, in order.
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
        self.phases: list[str] = []
        self._start = time.monotonic()
        self._task: asyncio.Task[None] | None = None
        self._drawn = False

    @property
    def elapsed(self) -> float:
        """Seconds since the progress line was created."""
        return time.monotonic() - self._start

    @property
    def phase(self) -> str | None:
        """The current phase (``connecting``, ``speaking``, ``recording``, ``stopping``...)."""
        return self.phases[-1] if self.phases else None

    @phase.setter
    def phase(self, name: str) -> None:
        if name != self.phase:
            self.phases.append(name)

    def line(self) -> str:
        """The text of the status line."""
        text = f"{self.label}: {self.phase}" if self.phase else self.label
        text += f"  {self.elapsed:5.1f} s"
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
    """A compact ``key: value`` rendering of a (nested) report for humans."""
    lines: list[str] = []
    for key, value in report.items():
        label = key.replace("_", " ")
        if isinstance(value, Mapping):
            if not value:
                continue
            lines.append(f"{indent}{label}:")
            lines.append(format_report(value, indent + "  "))
        elif isinstance(value, list):
            text = clean_text(", ".join(str(v) for v in value))
            lines.append(f"{indent}{label}: {text or '-'}")
        elif isinstance(value, float):
            lines.append(f"{indent}{label}: {value:.1f}")
        elif value is None:
            lines.append(f"{indent}{label}: -")
        else:
            lines.append(f"{indent}{label}: {clean_text(str(value))}")
    return "\n".join(lines)
