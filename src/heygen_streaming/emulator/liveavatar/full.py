"""FULL mode: the agent that takes commands on ``agent-control`` and answers on
``agent-response`` in a session's room, speaking through the emulator's one avatar.

=============================  ================================================================
command (``event_type``)       what the emulator does
=============================  ================================================================
``avatar.speak_text{text}``    speaks exactly ``text``: ``avatar.speak_started``,
                               ``avatar.transcription{text}``, then ``avatar.speak_ended``
``avatar.speak_response{text}`` speaks a deterministic stand-in reply (`chat_reply`): there is
                               no LLM offline
``avatar.interrupt``           cuts current and queued speech (``avatar.speak_ended`` at once)
``avatar.start_listening`` /   accepted (activity; no listening pose)
``avatar.stop_listening``
``user.start_push_to_talk`` /  PUSH_TO_TALK sessions: only speech inside the window counts
``user.stop_push_to_talk``
``session.stop``               ends the session (USER_CLOSED)
=============================  ================================================================

The user's microphone track is watched by energy voice detection (`.vad`):
``user.speak_started`` / ``user.speak_ended``, then ``user.transcription`` whose text says
plainly that there is no speech recognition, and (CONVERSATIONAL, avatar silent) a stand-in
reply. Every event has ``event_id``, ``event_type``, ``session_id`` and, when it answers a
command, ``source_event_id``. Malformed or unknown commands are ignored, as the service
documents no error event on this topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import uuid
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from ..avatar import AvatarState
from ..avatar.speech import Utterance, chat_reply
from .sessions import LaSession
from .vad import EnergyVad

if TYPE_CHECKING:
    from ..livekit import DataMessage, ServerParticipant

__all__ = ["COMMAND_TOPIC", "NO_SPEECH_RECOGNITION", "RESPONSE_TOPIC", "FullAgent"]

logger = logging.getLogger("heygen_streaming.emulator")

COMMAND_TOPIC = "agent-control"
RESPONSE_TOPIC = "agent-response"
NO_SPEECH_RECOGNITION = "[the emulator has no speech recognition: the user spoke here]"
MAX_QUEUED_EVENTS = 1000
MAX_QUEUED_SPEECH = 32


class FullAgent:
    """The FULL-mode agent of one session (see the module docstring)."""

    def __init__(
        self,
        session: LaSession,
        state: AvatarState,
        agent: ServerParticipant,
        *,
        tts_latency: float,
        max_text_length: int,
        stop: Callable[[str], Coroutine[Any, Any, None]],
    ) -> None:
        self.session = session
        self.state = state
        self.agent = agent
        self.tts_latency = tts_latency
        self.max_text_length = max_text_length
        self._stop = stop
        self._ptt = False
        self._ptt_spoke = False
        self._vad = EnergyVad()
        self._sources: dict[str, str | None] = {}
        self._preparing: set[asyncio.Task[None]] = set()
        self._readers: set[asyncio.Task[None]] = set()
        self._stopping: asyncio.Task[None] | None = None
        self._outbox: asyncio.Queue[bytes | None] = asyncio.Queue(MAX_QUEUED_EVENTS)
        self._writer = asyncio.create_task(self._write())
        state.speech.listener = self._talking

    # -- room callbacks ---------------------------------------------------------------------
    def viewer_joined(self) -> None:
        """A viewer joined: tell it the session is connected."""
        self.send("session.state_updated", state="connected")

    def command(self, message: DataMessage) -> None:
        """One data packet from a viewer (only ``agent-control`` counts)."""
        if message.topic != COMMAND_TOPIC:
            return
        try:
            body = json.loads(message.payload)
        except (ValueError, UnicodeDecodeError, RecursionError):
            logger.debug("FULL command is not JSON; ignored")
            return
        if not isinstance(body, dict):
            return
        kind, source = body.get("event_type"), body.get("event_id")
        source = source if isinstance(source, str) and len(source) <= 256 else None
        self.session.touch()
        if kind in ("avatar.speak_text", "avatar.speak_response"):
            text = body.get("text")
            if not isinstance(text, str) or not text.strip():
                return
            text = text[: self.max_text_length]
            if kind == "avatar.speak_response":
                self.session.say("user", text)
                text = chat_reply(text)
            self.speak(text, source)
        elif kind == "avatar.interrupt":
            self.interrupt()
        elif kind == "user.start_push_to_talk":
            self._ptt, self._ptt_spoke = True, False
            self._vad.reset()
        elif kind == "user.stop_push_to_talk":
            self._ptt = False
            if self._vad.reset() == "end" or self._ptt_spoke:
                self._user_finished()
        elif kind == "session.stop" and self._stopping is None:
            self._stopping = asyncio.create_task(self._stop("USER_CLOSED"))

    def listen(self, track: MediaStreamTrack) -> None:
        """Watch the user's microphone for speech."""
        task = asyncio.create_task(self._read(track))
        self._readers.add(task)
        task.add_done_callback(self._readers.discard)

    # -- speech ------------------------------------------------------------------------------
    def speak(self, text: str, source: str | None) -> None:
        """Speak ``text`` (after the simulated text-to-speech latency)."""
        if len(self._sources) >= MAX_QUEUED_SPEECH:
            logger.debug("FULL speech queue full; avatar.speak dropped")
            return
        state = self.state
        utterance = Utterance(  # renders on the speech engine's thread from now on
            secrets.token_hex(8),
            text,
            pitch=state.voice_pitch,
            voice=state.speech_voice,
            rate=state.voice_rate,
        )
        self._sources[utterance.task_id] = source

        async def queue() -> None:
            # speak_started comes once the first audio is rendered (and the simulated
            # text-to-speech latency has passed), as the service's does
            await asyncio.gather(utterance.wait_ready(), asyncio.sleep(self.tts_latency))
            state.speech.push(utterance)

        task = asyncio.create_task(queue())
        self._preparing.add(task)
        task.add_done_callback(self._preparing.discard)

    def interrupt(self) -> None:
        """Cut current, queued and still-preparing speech at once."""
        for task in list(self._preparing):
            task.cancel()
        self.state.speech.interrupt()
        self._sources.clear()

    def _talking(self, kind: str, utterance: Utterance, interrupted: bool) -> None:
        source = self._sources.get(utterance.task_id)
        self.session.touch()
        if kind == "start":
            self.send("avatar.speak_started", source_event_id=source)
            self.send("avatar.transcription", source_event_id=source, text=utterance.text)
            self.session.say("avatar", utterance.text)
            return
        self._sources.pop(utterance.task_id, None)
        self.send("avatar.speak_ended", source_event_id=source)

    # -- the user's microphone -------------------------------------------------------------
    async def _read(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except (MediaStreamError, asyncio.CancelledError):
                return
            if not isinstance(frame, av.AudioFrame):
                continue
            pcm = frame.to_ndarray()
            samples = pcm.astype(np.float32)
            if np.issubdtype(pcm.dtype, np.integer):
                samples /= 32768.0
            verdict = self._vad.feed(samples.reshape(-1), int(frame.sample_rate))
            if self.session.request.interactivity_type == "PUSH_TO_TALK" and not self._ptt:
                self._vad.reset()
                continue
            if verdict == "start":
                self._ptt_spoke = True
                self.session.touch()
                self.send("user.speak_started")
            elif verdict == "end" and not self._ptt:
                self._user_finished()

    def _user_finished(self) -> None:
        self._ptt_spoke = False
        self.send("user.speak_ended")
        self.send("user.transcription", text=NO_SPEECH_RECOGNITION)
        self.session.say("user", NO_SPEECH_RECOGNITION)
        if not self.state.speech.talking and not self._sources:
            self.speak(chat_reply(NO_SPEECH_RECOGNITION), None)

    # -- events ------------------------------------------------------------------------------
    def send(self, event_type: str, **fields: Any) -> None:
        """Queue one ``agent-response`` event (dropped if the viewer stopped reading)."""
        event = {
            "event_id": str(uuid.uuid4()),
            "event_type": event_type,
            "session_id": self.session.session_id,
            "source_event_id": None,
            **fields,
        }
        with contextlib.suppress(asyncio.QueueFull):
            self._outbox.put_nowait(json.dumps(event).encode())

    async def _write(self) -> None:
        while (payload := await self._outbox.get()) is not None:
            try:
                await self.agent.send_data(payload, topic=RESPONSE_TOPIC, reliable=True)
            except Exception:  # the room is closing: nobody left to tell
                logger.debug("FULL event not sent", exc_info=True)

    async def close(self, reason: str) -> None:
        """Say ``session.stopped`` (reason as ``stop_reason`` and ``end_reason``), stop."""
        self.interrupt()
        self.send("session.stopped", stop_reason=reason, end_reason=reason)
        with contextlib.suppress(asyncio.QueueFull):
            self._outbox.put_nowait(None)
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(self._writer), 1.0)
        self._writer.cancel()
        for task in [*self._readers, *self._preparing]:
            task.cancel()
