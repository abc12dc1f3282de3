"""LiveAvatar's server events as typed events (both wires), the speech waits, and the shared
stop machinery's `finish` under anyio's level-triggered cancellation."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import anyio
import pytest

from heygen_streaming import SessionClosed
from heygen_streaming._liveavatar.events import parse_full, parse_lite
from heygen_streaming._liveavatar.speech import SpeechTracker
from heygen_streaming._liveavatar.state import LiveAvatarEndReason as R
from heygen_streaming._liveavatar.state import published_reason
from heygen_streaming._media.events import EventHub
from heygen_streaming._sessions import finish
from heygen_streaming.liveavatar import (
    AgentState,
    Interrupted,
    RawEvent,
    ServerError,
    SessionEnded,
    SpeakEnded,
    SpeakStarted,
    StateChanged,
    Transcription,
    UserSpeaking,
)


def full(**fields: Any) -> bytes:
    return json.dumps({"event_id": "e", "session_id": "s", **fields}).encode()


def lite(**fields: Any) -> str:
    return json.dumps({"session_id": "s", **fields})


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (full(event_type="avatar.speak_started", source_event_id="c1"),
         SpeakStarted(type="avatar.speak_started", event_id="e", speech_id="c1")),
        (full(event_type="avatar.speak_ended", source_event_id="c1"),
         SpeakEnded(type="avatar.speak_ended", event_id="e", speech_id="c1")),
        (full(event_type="avatar.transcription", text="hi", source_event_id="c1"),
         Transcription(type="avatar.transcription", event_id="e", role="avatar", text="hi",
                       speech_id="c1")),
        (full(event_type="user.transcription.chunk", text="he"),
         Transcription(type="user.transcription.chunk", event_id="e", role="user", text="he",
                       final=False)),
        (full(event_type="user.speak_started"),
         UserSpeaking(type="user.speak_started", event_id="e", speaking=True)),
        (full(event_type="user.speak_ended"),
         UserSpeaking(type="user.speak_ended", event_id="e", speaking=False)),
        (full(event_type="session.state_updated", state="connected"),
         StateChanged(type="session.state_updated", event_id="e", state="connected")),
        (full(event_type="elevenlabs_agent_event", x=1),
         RawEvent(type="elevenlabs_agent_event", event_id="e")),
    ],
)  # fmt: skip
def test_full_events(message: bytes, expected: Any) -> None:
    event = parse_full(message)
    assert event == expected
    assert event.data == json.loads(message)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (lite(type="agent.speak_started", event_id="u1", task={"id": "t"}),
         SpeakStarted(type="agent.speak_started", event_id="u1", speech_id="u1", task_id="t")),
        (lite(type="agent.speak_ended", event_id="u1", task={"id": "t"}),
         SpeakEnded(type="agent.speak_ended", event_id="u1", speech_id="u1", task_id="t")),
        (lite(type="agent.speak_interrupted", event_id="u1", task={"id": "t"}),
         Interrupted(type="agent.speak_interrupted", event_id="u1", speech_id="u1", task_id="t")),
        (lite(type="agent.state_updated", event_id="x", previous_state="idle", new_state="talking"),
         AgentState(type="agent.state_updated", event_id="x", state="talking", previous="idle")),
        (lite(type="session.state_updated", event_id="x", state="closing"),
         StateChanged(type="session.state_updated", event_id="x", state="closing")),
        (lite(type="warning", event_id="x", code="not_connected", message="early",
              source_event_id="c"),
         ServerError(type="warning", event_id="x", code="not_connected", message="early",
                     warning=True, source_event_id="c")),
        (lite(type="agent.audio_buffer_cleared", event_id="x"),
         RawEvent(type="agent.audio_buffer_cleared", event_id="x")),
    ],
)  # fmt: skip
def test_lite_events(message: str, expected: Any) -> None:
    assert parse_lite(message) == expected


@pytest.mark.parametrize(
    "message",
    [b"\xff\xfe", b"[1]", b"null", b"[" * 100_000 + b"]" * 100_000, b"x" * (2 << 20), b""],
)
def test_bad_messages_are_raw_never_an_error(message: bytes) -> None:
    assert isinstance(parse_full(message), RawEvent)
    assert isinstance(parse_lite(message), RawEvent)
    error = parse_lite(lite(type="error", code=["x"], message="\x1b[31m" + "m" * 9000))
    assert isinstance(error, ServerError) and error.code is None
    assert "\x1b" not in error.message and len(error.message) <= 500


def test_published_reasons() -> None:
    assert published_reason("IDLE_TIMEOUT") is R.IDLE_TIMEOUT
    assert published_reason("max_duration_reached") is R.MAX_DURATION_REACHED
    assert published_reason("SOMETHING_NEW") is R.UNKNOWN
    assert published_reason(None) is None and published_reason({"x": 1}) is None


async def test_event_streams_end_with_the_session() -> None:
    hub = EventHub(lambda event: isinstance(event, SessionEnded), history=3)
    early = hub.subscribe()
    for i in range(5):
        hub.emit(RawEvent(type=f"e{i}"))
    late = hub.subscribe(capacity=2)
    hub.emit(SessionEnded(reason=R.CLOSED))
    hub.emit(RawEvent(type="after"))
    assert [e.type async for e in early] == ["e0", "e1", "e2", "e3", "e4", "session.ended"]
    assert [e.type async for e in late] == ["e4", "session.ended"]  # bounded: oldest dropped
    assert [e.type async for e in hub.subscribe()][-1] == "session.ended"


async def test_speech_waits() -> None:
    speech = SpeechTracker()
    for sid in ("a", "b", "c", "d"):
        speech.begin(sid)
    speech.started("a")
    speech.ended("a")
    assert await speech.wait("a") == "ended"
    speech.started("b")
    speech.ended(None)  # a service that names no id ends the oldest started speech
    assert await speech.wait("b") == "ended"
    speech.interrupted()
    assert await speech.wait("c") == "ended"  # popped: nothing left to wait for
    speech.begin("e")
    waiting = asyncio.ensure_future(speech.wait("e"))
    await asyncio.sleep(0)
    speech.close(SessionClosed("gone", reason="idle_timeout"))
    with pytest.raises(SessionClosed):
        await waiting


# -- the shared stop machinery -----------------------------------------------------------------


async def test_finish_runs_cleanup_through_level_triggered_cancellation() -> None:
    """anyio's cancel scopes cancel the task again at every wait until it leaves the scope."""
    done: list[str] = []

    async def cleanup() -> None:
        for step in range(5):
            await asyncio.sleep(0.01)
            done.append(f"step{step}")

    async def inside() -> None:
        try:
            await anyio.sleep(10)
        finally:
            if await finish(cleanup()):
                raise asyncio.CancelledError

    with anyio.move_on_after(0.02) as scope:
        await inside()
    assert scope.cancelled_caught and done == [f"step{i}" for i in range(5)]
