"""An incremental Server-Sent Events parser (the WHATWG ``text/event-stream`` rules).

Feed it bytes as they arrive; it yields complete events. Lines end with CRLF, LF or CR (a CR
at the end of one chunk and an LF at the start of the next are one line end); lines starting
with ``:`` are comments; ``data:`` lines of one event are joined with newlines; one space
after the colon is dropped; a leading UTF-8 BOM is skipped; an event is dispatched at a blank
line, and an unfinished event at the end of the stream is discarded.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

__all__ = ["MAX_LINE", "SSEError", "SSEEvent", "SSEParser"]

MAX_LINE = 1 << 20
"""Longest line, and largest data of one event, accepted (characters of text); more
raises `SSEError`."""


class SSEError(ValueError):
    """The event stream is malformed beyond recovery (for example an endless line)."""


@dataclass(frozen=True)
class SSEEvent:
    """One dispatched event: ``event`` defaults to ``"message"``."""

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


class SSEParser:
    """Incremental parser: ``for event in parser.feed(chunk): ...``."""

    def __init__(self, *, max_line: int = MAX_LINE) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._max_line = max_line
        self._buffer = ""
        self._started = False
        self._skip_lf = False
        self._event = ""
        self._data: list[str] = []
        self._size = 0
        self._has_data = False
        self.last_event_id: str | None = None
        self.retry: int | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Parse ``chunk``; return the events it completed (possibly none)."""
        text = self._decoder.decode(chunk)
        if not self._started and text:
            self._started = True
            if text.startswith("\ufeff"):
                text = text[1:]
        return self._lines(text)

    def close(self) -> list[SSEEvent]:
        """End of stream: flush the decoder; a pending unterminated event is discarded."""
        events = self._lines(self._decoder.decode(b"", final=True))
        self._buffer = ""
        self._reset()
        return events

    def _lines(self, text: str) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        if self._skip_lf and text:
            self._skip_lf = False
            if text[0] == "\n":
                text = text[1:]
        buffer = self._buffer + text
        start = 0
        length = len(buffer)
        while start < length:
            cr = buffer.find("\r", start)
            lf = buffer.find("\n", start)
            if cr == -1 and lf == -1:
                break
            end = lf if cr == -1 else cr if lf == -1 else min(cr, lf)
            line = buffer[start:end]
            if buffer[end] == "\r":
                if end + 1 < length:
                    start = end + 2 if buffer[end + 1] == "\n" else end + 1
                else:
                    start = end + 1
                    self._skip_lf = True
            else:
                start = end + 1
            event = self._line(line)
            if event is not None:
                events.append(event)
        self._buffer = buffer[start:]
        if len(self._buffer) > self._max_line:
            raise SSEError(f"an event-stream line exceeds {self._max_line} characters")
        return events

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._size += len(value) + 1
            if self._size > self._max_line:  # many short data lines: an endless event
                raise SSEError(f"an event's data exceeds {self._max_line} characters")
            self._data.append(value)
            self._has_data = True
        elif field == "event":
            self._event = value
        elif field == "id" and "\0" not in value:
            self.last_event_id = value
        elif field == "retry" and value.isdigit():
            self.retry = int(value)
        return None

    def _dispatch(self) -> SSEEvent | None:
        if not self._has_data:
            self._reset()
            return None
        event = SSEEvent(
            event=self._event or "message",
            data="\n".join(self._data),
            id=self.last_event_id,
            retry=self.retry,
        )
        self._reset()
        return event

    def _reset(self) -> None:
        self._event = ""
        self._data = []
        self._size = 0
        self._has_data = False
