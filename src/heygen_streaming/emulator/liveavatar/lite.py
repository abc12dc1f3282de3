"""The LITE control socket's protocol, sans I/O: messages in, events and actions out.

`LiteProtocol` parses what a client sends on ``ws_url`` and keeps the session and agent
states; it never touches a socket or the avatar. The glue (`.lite_socket`) feeds it
frames, performs its `Action` values on the avatar's PCM player and sends its events; the
player reports back when each speech starts and ends (`speech_started`, `speech_ended`).

=========================  =================================================================
command                    answer
=========================  =================================================================
``agent.speak``            `Speak` + ``agent.audio_buffer_appended``; ``agent.speak_started``
                           (and ``agent.state_updated`` -> talking) when it starts playing
``agent.speak_end``        `SpeakEnd` + ``agent.audio_buffer_committed``; ``agent.speak_ended``
                           once its audio has played
``agent.interrupt``        `Interrupt` + ``agent.speak_interrupted`` (if one was playing),
                           ``agent.audio_buffer_cleared``
``agent.start_listening``  ``agent.state_updated`` idle -> listening
``agent.stop_listening``   ``agent.state_updated`` listening -> idle
``session.keep_alive``     `KeepAlive` (no answer)
=========================  =================================================================

Bad input never ends the session: each gets an ``error`` event naming the problem
(``code``: binary_frame, message_too_large, invalid_json, not_an_object, missing_type,
unknown_type, invalid_event_id, missing_audio, invalid_base64, odd_byte_count,
audio_too_large). Commands before the session is ``connected`` are dropped with a
``warning`` (code not_connected); the service drops them silently.
"""

from __future__ import annotations

import base64
import binascii
import collections
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "COMMANDS",
    "MAX_AUDIO_BYTES",
    "MAX_MESSAGE_BYTES",
    "Action",
    "AgentState",
    "Interrupt",
    "KeepAlive",
    "LiteProtocol",
    "SessionState",
    "Speak",
    "SpeakEnd",
]

MAX_AUDIO_BYTES = 1 << 20
"""Largest PCM payload of one ``agent.speak`` (published: 1 MB a message)."""
MAX_MESSAGE_BYTES = (MAX_AUDIO_BYTES * 4 + 2) // 3 + 4096
"""Largest text frame: 1 MiB of audio in base64 plus room for the JSON around it."""
MAX_EVENT_ID = 256
MAX_TRACKED_IDS = 4096

COMMANDS = (
    "agent.speak",
    "agent.speak_end",
    "agent.interrupt",
    "agent.start_listening",
    "agent.stop_listening",
    "session.keep_alive",
)
SessionState = Literal["connecting", "connected", "closing", "closed"]
AgentState = Literal["idle", "listening", "talking"]
Event = dict[str, Any]


@dataclass(frozen=True)
class Speak:
    """Append ``pcm`` (s16le, 24 kHz, mono) to the speech ``event_id``."""

    event_id: str
    pcm: bytes


@dataclass(frozen=True)
class SpeakEnd:
    """No more audio for ``event_id``: play what is buffered, then end it."""

    event_id: str


@dataclass(frozen=True)
class Interrupt:
    """Drop everything queued and cut what is playing."""


@dataclass(frozen=True)
class KeepAlive:
    """Activity: resets the session's idle timer."""


Action = Speak | SpeakEnd | Interrupt | KeepAlive


def _new_id() -> str:
    return uuid.uuid4().hex


class _Bad(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class LiteProtocol:
    """One LITE socket's state machine (see the module docstring)."""

    def __init__(self, session_id: str, *, new_id: Callable[[], str] = _new_id) -> None:
        self.session_id = session_id
        self.state: SessionState = "connecting"
        self.agent_state: AgentState = "idle"
        self._new_id = new_id
        self._listening = False
        self._open: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._tasks: collections.OrderedDict[str, str] = collections.OrderedDict()
        self._playing: collections.OrderedDict[str, None] = collections.OrderedDict()

    # -- session state ----------------------------------------------------------------------
    def opened(self) -> list[Event]:
        """The socket is open: ``session.state_updated`` connecting."""
        return [self._event("session.state_updated", state=self.state)]

    def ready(self) -> list[Event]:
        """The avatar is ready: ``session.state_updated`` connected (commands now count)."""
        return self._set_state("connected")

    def closing(self) -> list[Event]:
        """The session is ending: ``session.state_updated`` closing."""
        return self._set_state("closing")

    def closed(self) -> list[Event]:
        """The session ended: ``session.state_updated`` closed."""
        return self._set_state("closed")

    # -- input --------------------------------------------------------------------------------
    def receive(self, data: str | bytes) -> tuple[list[Event], list[Action]]:
        """Events to send and actions to perform for one frame from the client."""
        source: str | None = None
        try:
            message = self._parse(data)
            kind = message["type"]
            source = self._event_id(message)
            if self.state != "connected":
                warning = self._event(
                    "warning",
                    source_event_id=source,
                    code="not_connected",
                    message=f"{kind} dropped: the session is {self.state}, not connected "
                    "(wait for session.state_updated connected)",
                )
                return [warning], []
            return self._command(kind, message, source)
        except _Bad as bad:
            error = self._event("error", source_event_id=source, code=bad.code, message=bad.message)
            return [error], []

    def _parse(self, data: str | bytes) -> dict[str, Any]:
        if isinstance(data, bytes):
            raise _Bad("binary_frame", "binary frames are not accepted: send JSON text frames")
        size = len(data.encode("utf-8", "surrogatepass"))
        if size > MAX_MESSAGE_BYTES:
            raise _Bad(
                "message_too_large",
                f"message is {size} bytes; the limit is {MAX_MESSAGE_BYTES} "
                f"({MAX_AUDIO_BYTES} bytes of audio)",
            )
        try:
            message = json.loads(data)
        except (ValueError, RecursionError):
            raise _Bad("invalid_json", "message is not valid JSON") from None
        if not isinstance(message, dict):
            raise _Bad("not_an_object", "message must be a JSON object with a 'type'")
        kind = message.get("type")
        if not isinstance(kind, str) or not kind:
            raise _Bad("missing_type", "message has no 'type' string")
        if kind not in COMMANDS:
            shown = kind[:64]
            raise _Bad("unknown_type", f"unknown type {shown!r}; expected one of {COMMANDS}")
        return message

    @staticmethod
    def _event_id(message: dict[str, Any]) -> str | None:
        value = message.get("event_id")
        if value is None:
            return None
        if not isinstance(value, str) or not 0 < len(value) <= MAX_EVENT_ID:
            raise _Bad("invalid_event_id", f"event_id must be a string of 1-{MAX_EVENT_ID} chars")
        return value

    def _command(
        self, kind: str, message: dict[str, Any], source: str | None
    ) -> tuple[list[Event], list[Action]]:
        if kind == "agent.speak":
            pcm = self._audio(message)
            event_id = source or next(reversed(self._open), None) or self._new_id()
            self._remember(event_id)
            appended = self._event("agent.audio_buffer_appended", source_event_id=event_id)
            return [appended], [Speak(event_id, pcm)]
        if kind == "agent.speak_end":
            ending = source or next(reversed(self._open), None)
            if ending is None or ending not in self._open:
                warning = self._event(
                    "warning",
                    source_event_id=source,
                    code="unknown_event_id",
                    message="agent.speak_end for no open speech (no agent.speak with this "
                    "event_id, or it was already ended or interrupted)",
                )
                return [warning], []
            del self._open[ending]
            committed = self._event("agent.audio_buffer_committed", source_event_id=ending)
            return [committed], [SpeakEnd(ending)]
        if kind == "agent.interrupt":
            events = [
                self._event("agent.speak_interrupted", event_id=i, task={"id": self._task(i)})
                for i in self._playing
            ]
            self._playing.clear()
            self._open.clear()
            events.append(self._event("agent.audio_buffer_cleared", source_event_id=source))
            return events + self._agent_state(), [Interrupt()]
        if kind == "agent.start_listening":
            self._listening = True
            return self._agent_state(), [KeepAlive()]
        if kind == "agent.stop_listening":
            self._listening = False
            return self._agent_state(), [KeepAlive()]
        return [], [KeepAlive()]  # session.keep_alive

    @staticmethod
    def _audio(message: dict[str, Any]) -> bytes:
        audio = message.get("audio")
        if not isinstance(audio, str):
            raise _Bad("missing_audio", "agent.speak needs 'audio': base64 PCM s16le 24 kHz mono")
        try:
            pcm = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError):
            raise _Bad("invalid_base64", "audio is not valid base64") from None
        if len(pcm) > MAX_AUDIO_BYTES:
            raise _Bad(
                "audio_too_large",
                f"audio is {len(pcm)} bytes; the limit is {MAX_AUDIO_BYTES} a message",
            )
        if len(pcm) % 2:
            raise _Bad(
                "odd_byte_count",
                f"audio has an odd number of bytes ({len(pcm)}): PCM s16le has 2 bytes a sample",
            )
        return pcm

    # -- what the avatar reports ---------------------------------------------------------------
    def speech_started(self, event_id: str) -> list[Event]:
        """The first sample of ``event_id`` is playing."""
        if event_id in self._playing:
            return []
        self._playing[event_id] = None
        started = self._event(
            "agent.speak_started", event_id=event_id, task=self._task_of(event_id)
        )
        return [started, *self._agent_state()]

    def speech_ended(self, event_id: str) -> list[Event]:
        """The last sample of ``event_id`` has played (ignored if it was interrupted)."""
        if event_id not in self._playing:
            return []
        del self._playing[event_id]
        self._open.pop(event_id, None)
        ended = self._event("agent.speak_ended", event_id=event_id, task=self._task_of(event_id))
        return [ended, *self._agent_state()]

    def refused(self, event_id: str, code: str, message: str) -> list[Event]:
        """An ``error`` for a command the avatar could not take (e.g. its buffer is full)."""
        return [self._event("error", source_event_id=event_id, code=code, message=message)]

    # -- helpers ------------------------------------------------------------------------------
    def _remember(self, event_id: str) -> None:
        self._open[event_id] = None
        self._open.move_to_end(event_id)
        self._task(event_id)
        while len(self._open) > MAX_TRACKED_IDS:
            self._open.popitem(last=False)

    def _task(self, event_id: str) -> str:
        task = self._tasks.get(event_id)
        if task is None:
            task = self._tasks[event_id] = self._new_id()
            while len(self._tasks) > MAX_TRACKED_IDS:
                self._tasks.popitem(last=False)
        return task

    def _task_of(self, event_id: str) -> dict[str, str]:
        return {"id": self._task(event_id)}

    def _agent_state(self) -> list[Event]:
        new: AgentState = "talking" if self._playing else "listening" if self._listening else "idle"
        if new == self.agent_state:
            return []
        previous, self.agent_state = self.agent_state, new
        return [self._event("agent.state_updated", previous_state=previous, new_state=new)]

    def _set_state(self, state: SessionState) -> list[Event]:
        if state == self.state:
            return []
        self.state = state
        return [self._event("session.state_updated", state=state)]

    def _event(self, kind: str, **fields: Any) -> Event:
        event: Event = {"type": kind, "session_id": self.session_id}
        event.setdefault("event_id", self._new_id())
        event.update(fields)
        return event
