"""FULL mode's agent without a room: commands in, events out, push-to-talk, the user's
voice (energy detection), and the session lifecycle's viewer grace."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import av
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError

from heygen_streaming.emulator.avatar import AvatarState
from heygen_streaming.emulator.avatar.speech import CHAT_REPLIES
from heygen_streaming.emulator.liveavatar import LaRegistry, LiveAvatarOptions
from heygen_streaming.emulator.liveavatar.catalog import AVATARS
from heygen_streaming.emulator.liveavatar.full import NO_SPEECH_RECOGNITION, FullAgent
from heygen_streaming.emulator.liveavatar.vad import EnergyVad
from heygen_streaming.emulator.liveavatar.wire import TokenRequest
from heygen_streaming.emulator.livekit import DataMessage

pytestmark = pytest.mark.timeout(20)


class FakeAgent:
    """Stands in for the room's ``liveavatar-agent-<id>`` participant."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()

    async def send_data(self, payload: bytes, *, topic: str, reliable: bool) -> None:
        assert topic == "agent-response" and reliable
        self.sent.append(json.loads(payload))
        self.arrived.set()

    async def wait(self, event_type: str, count: int = 1) -> dict[str, Any]:
        async with asyncio.timeout(5):
            while len(found := [e for e in self.sent if e["event_type"] == event_type]) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return found[count - 1]


class Mic:
    """A user's microphone: ``loud`` 20 ms frames of a tone, then silence forever."""

    def __init__(self, loud: int) -> None:
        self.loud = loud
        self.sent = 0
        self.progress = asyncio.Event()

    async def recv(self) -> av.AudioFrame:
        await asyncio.sleep(0)
        if self.sent > 200:
            raise MediaStreamError
        level = 8000 if self.sent < self.loud else 0
        t = np.arange(960) / 48_000
        pcm = (np.sin(2 * np.pi * 300 * t) * level).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = 48_000
        self.sent += 1
        self.progress.set()
        return frame


def make(interactivity: str = "CONVERSATIONAL", **options: Any) -> tuple[Any, Any, Any]:
    registry = LaRegistry(LiveAvatarOptions(**options), max_sessions=5, max_total=5)
    request = TokenRequest.model_validate(
        {"avatar_id": AVATARS[0].id, "avatar_persona": {}, "interactivity_type": interactivity}
    )
    session = registry.create(owner="k", request=request, avatar=AVATARS[0], token_ttl=60)
    registry.start(session)
    return registry, session, request


def command(event_type: str, **fields: Any) -> DataMessage:
    body = {"event_type": event_type, "event_id": str(uuid.uuid4()), **fields}
    return DataMessage("client", "agent-control", json.dumps(body).encode(), True)


async def play(full: FullAgent, state: AvatarState, seconds: float) -> None:
    """Drain the avatar's speech as its audio track would (faster than real time), once the
    speech queued so far is rendered and pushed (the engine renders on its own thread)."""
    await asyncio.wait_for(asyncio.gather(*full._preparing), 10)
    for _ in range(int(seconds * 50)):
        if state.speech.talking:
            state.speech.next_chunk(960)
        await asyncio.sleep(0)


async def test_speak_text_response_interrupt_and_ignored_input() -> None:
    registry, session, _ = make()
    state, agent = AvatarState(), FakeAgent()
    full = FullAgent(session, state, agent, tts_latency=0, max_text_length=100, stop=registry.close)  # type: ignore[arg-type]
    full.command(DataMessage("client", "agent-control", b"not json", True))
    full.command(DataMessage("client", "other-topic", b"{}", True))
    full.command(command("avatar.speak_text", text=""))
    full.command(command("avatar.dance"))
    speak = command("avatar.speak_text", text="Exactly these words")
    full.command(speak)
    await play(full, state, 3.0)
    started = await agent.wait("avatar.speak_started")
    assert started["source_event_id"] == json.loads(speak.payload)["event_id"]
    assert (await agent.wait("avatar.transcription"))["text"] == "Exactly these words"
    await agent.wait("avatar.speak_ended")
    full.command(command("avatar.speak_response", text="What can you do?"))
    await play(full, state, 0.1)
    reply = (await agent.wait("avatar.transcription", 2))["text"]
    assert reply in CHAT_REPLIES  # the stand-in: no LLM
    full.command(command("avatar.interrupt"))
    await agent.wait("avatar.speak_ended", 2)  # at once, not after the reply
    assert not state.speech.talking
    assert [(e.role, e.text) for e in session.transcript] == [
        ("avatar", "Exactly these words"),
        ("user", "What can you do?"),
        ("avatar", reply),
    ]
    await full.close("USER_CLOSED")
    stopped = await agent.wait("session.stopped")
    assert stopped["stop_reason"] == stopped["end_reason"] == "USER_CLOSED"
    await registry.close_all("USER_CLOSED")


async def test_the_users_voice_is_detected_not_recognised_and_answered() -> None:
    registry, session, _ = make()
    state, agent = AvatarState(), FakeAgent()
    full = FullAgent(session, state, agent, tts_latency=0, max_text_length=100, stop=registry.close)  # type: ignore[arg-type]
    full.listen(Mic(loud=25))  # 0.5 s of voice
    await agent.wait("user.speak_started")
    await agent.wait("user.speak_ended")
    assert (await agent.wait("user.transcription"))["text"] == NO_SPEECH_RECOGNITION
    await play(full, state, 0.1)
    await agent.wait("avatar.speak_started")  # conversational: a stand-in reply
    await full.close("USER_CLOSED")
    await registry.close_all("USER_CLOSED")


async def test_push_to_talk_counts_speech_only_inside_the_window() -> None:
    registry, session, _ = make("PUSH_TO_TALK")
    state, agent = AvatarState(), FakeAgent()
    full = FullAgent(session, state, agent, tts_latency=0, max_text_length=100, stop=registry.close)  # type: ignore[arg-type]
    mic = Mic(loud=25)
    full.listen(mic)
    async with asyncio.timeout(5):
        while mic.sent < 40:
            mic.progress.clear()
            await mic.progress.wait()
    assert not [e for e in agent.sent if e["event_type"].startswith("user.")]  # no window yet
    mic.sent, mic.loud = 0, 1000
    full.command(command("user.start_push_to_talk"))
    await agent.wait("user.speak_started")
    full.command(command("user.stop_push_to_talk"))
    await agent.wait("user.speak_ended")
    await agent.wait("user.transcription")
    await full.close("USER_CLOSED")
    await registry.close_all("USER_CLOSED")


async def test_session_stop_command_and_the_viewer_grace() -> None:
    registry, session, _ = make(disconnect_grace=0.2)
    session.viewer_present(True)
    assert session.status == "connected"
    session.viewer_present(False)
    await asyncio.sleep(0.05)  # a viewer back within the grace period keeps the session
    session.viewer_present(True)
    await asyncio.sleep(0.3)
    assert session.live
    session.viewer_present(False)
    assert await asyncio.wait_for(session.wait_closed(), 2) == "USER_DISCONNECTED"
    registry, session, _ = make()
    full = FullAgent(
        session,
        AvatarState(),
        FakeAgent(),
        tts_latency=0,
        max_text_length=9,
        stop=lambda r: registry.close(session, r),
    )  # type: ignore[arg-type]
    full.command(command("session.stop"))
    assert await asyncio.wait_for(session.wait_closed(), 2) == "USER_CLOSED"


def test_energy_vad_needs_a_run_of_voice_and_a_pause() -> None:
    vad = EnergyVad(start_ms=100, hang_ms=300)
    loud, quiet = np.full(480, 0.1), np.zeros(480)  # 10 ms frames at 48 kHz
    verdicts = [vad.feed(loud, 48_000) for _ in range(5)] + [vad.feed(quiet, 48_000)]
    assert verdicts.count("start") == 0  # a 50 ms click is not speech
    verdicts = [vad.feed(loud, 48_000) for _ in range(12)]
    assert verdicts.count("start") == 1
    verdicts = [vad.feed(quiet, 48_000) for _ in range(10)] + [vad.feed(loud, 48_000)]
    assert verdicts.count("end") == 0  # a syllable gap does not end it
    verdicts = [vad.feed(quiet, 48_000) for _ in range(31)]
    assert verdicts.count("end") == 1
