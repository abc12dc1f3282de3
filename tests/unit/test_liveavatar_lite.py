"""The LITE socket's protocol core, without sockets: parsing, states, events, bad input."""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

import pytest

from heygen_streaming.emulator.liveavatar.lite import (
    MAX_AUDIO_BYTES,
    MAX_MESSAGE_BYTES,
    Interrupt,
    KeepAlive,
    LiteProtocol,
    Speak,
    SpeakEnd,
)


def connected() -> LiteProtocol:
    counter = itertools.count()
    proto = LiteProtocol("sess", new_id=lambda: f"srv-{next(counter)}")
    assert [e["state"] for e in proto.opened()] == ["connecting"]
    assert [e["state"] for e in proto.ready()] == ["connected"]
    return proto


def send(proto: LiteProtocol, **message: Any) -> tuple[list[dict[str, Any]], list[Any]]:
    return proto.receive(json.dumps(message))


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def audio(n_bytes: int) -> str:
    return base64.b64encode(bytes(n_bytes)).decode()


def test_a_speech_from_append_to_end() -> None:
    proto = connected()
    events, actions = send(proto, type="agent.speak", event_id="e1", audio=audio(4800))
    assert types(events) == ["agent.audio_buffer_appended"]
    assert events[0]["source_event_id"] == "e1"
    assert actions == [Speak("e1", bytes(4800))]
    events, actions = send(proto, type="agent.speak_end", event_id="e1")
    assert types(events) == ["agent.audio_buffer_committed"] and actions == [SpeakEnd("e1")]
    started = proto.speech_started("e1")
    assert types(started) == ["agent.speak_started", "agent.state_updated"]
    assert started[0]["event_id"] == "e1" and started[0]["task"]["id"]
    assert (started[1]["previous_state"], started[1]["new_state"]) == ("idle", "talking")
    ended = proto.speech_ended("e1")
    assert types(ended) == ["agent.speak_ended", "agent.state_updated"]
    assert ended[0]["task"] == started[0]["task"]  # the same task id in both
    assert ended[1]["new_state"] == "idle"


def test_speak_without_event_id_continues_the_open_speech() -> None:
    proto = connected()
    _, first = send(proto, type="agent.speak", audio=audio(2))
    _, second = send(proto, type="agent.speak", audio=audio(2))
    assert first[0].event_id == second[0].event_id
    _, actions = send(proto, type="agent.speak_end")
    assert actions == [SpeakEnd(first[0].event_id)]


def test_interrupt_reports_the_playing_speech_and_clears() -> None:
    proto = connected()
    send(proto, type="agent.speak", event_id="e1", audio=audio(2))
    proto.speech_started("e1")
    events, actions = send(proto, type="agent.interrupt")
    assert types(events) == [
        "agent.speak_interrupted",
        "agent.audio_buffer_cleared",
        "agent.state_updated",
    ]
    assert events[0]["event_id"] == "e1" and actions == [Interrupt()]
    assert proto.speech_ended("e1") == []  # the player's late report is ignored
    events, _ = send(proto, type="agent.speak_end", event_id="e1")
    assert types(events) == ["warning"] and events[0]["code"] == "unknown_event_id"


def test_listening_states() -> None:
    proto = connected()
    events, _ = send(proto, type="agent.start_listening", event_id="l1")
    assert [(e["previous_state"], e["new_state"]) for e in events] == [("idle", "listening")]
    send(proto, type="agent.speak", event_id="e1", audio=audio(2))
    proto.speech_started("e1")
    assert proto.agent_state == "talking"
    assert proto.speech_ended("e1")[-1]["new_state"] == "listening"  # back to listening
    events, _ = send(proto, type="agent.stop_listening")
    assert [(e["previous_state"], e["new_state"]) for e in events] == [("listening", "idle")]
    events, actions = send(proto, type="session.keep_alive", event_id="k")
    assert events == [] and actions == [KeepAlive()]


def test_commands_before_connected_are_dropped_with_a_warning() -> None:
    proto = LiteProtocol("sess")
    proto.opened()
    events, actions = send(proto, type="agent.speak", event_id="early", audio=audio(2))
    assert actions == []
    assert types(events) == ["warning"] and events[0]["code"] == "not_connected"
    assert events[0]["source_event_id"] == "early"


BAD: list[tuple[str, str | bytes, str]] = [
    ("binary frame", b"\x00\x01", "binary_frame"),
    ("not JSON", "{nope", "invalid_json"),
    ("JSON array", "[1, 2]", "not_an_object"),
    ("JSON string", '"agent.speak"', "not_an_object"),
    ("no type", '{"audio": ""}', "missing_type"),
    ("type not a string", '{"type": 5}', "missing_type"),
    ("unknown type", '{"type": "agent.dance"}', "unknown_type"),
    ("event_id not a string", '{"type": "agent.speak_end", "event_id": 7}', "invalid_event_id"),
    (
        "event_id too long",
        json.dumps({"type": "agent.interrupt", "event_id": "x" * 300}),
        "invalid_event_id",
    ),
    ("no audio", '{"type": "agent.speak", "event_id": "a"}', "missing_audio"),
    ("audio not a string", '{"type": "agent.speak", "audio": [1]}', "missing_audio"),
    ("not base64", '{"type": "agent.speak", "audio": "@@@@"}', "invalid_base64"),
    ("odd byte count", json.dumps({"type": "agent.speak", "audio": audio(3)}), "odd_byte_count"),
    (
        "audio over 1 MiB",
        json.dumps({"type": "agent.speak", "audio": audio(MAX_AUDIO_BYTES + 2)}),
        "audio_too_large",
    ),
    (
        "message over the limit",
        json.dumps({"type": "x", "pad": "y" * MAX_MESSAGE_BYTES}),
        "message_too_large",
    ),
    ("deep nesting", "[" * 100_000 + "]" * 100_000, "invalid_json"),
]


@pytest.mark.parametrize(("frame", "code"), [case[1:] for case in BAD], ids=[c[0] for c in BAD])
def test_bad_input_gets_an_error_event_and_the_session_lives_on(
    frame: str | bytes, code: str
) -> None:
    proto = connected()
    events, actions = proto.receive(frame)
    assert actions == []
    assert types(events) == ["error"] and events[0]["code"] == code
    assert events[0]["message"]
    events, actions = send(proto, type="agent.speak", event_id="ok", audio=audio(2))
    assert actions == [Speak("ok", bytes(2))]  # still serving
