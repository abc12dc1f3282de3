"""A LITE session end to end: your audio in (any format, file, stream), the avatar's voice
out, speech events, interrupt, keep-alive on the socket, a dropped socket reopened."""

from __future__ import annotations

import asyncio
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from heygen_streaming import LiveAvatarClient, LiveAvatarEndReason, LiveAvatarSession
from heygen_streaming.liveavatar import AgentState, Interrupted, SpeakEnded, SpeakStarted

from .conftest import AVATAR, KEY, Emu, Sdk

pytestmark = [pytest.mark.netns, pytest.mark.requires_tool("ip", package="iproute2")]

LIVEAVATAR_OPTIONS = {"idle_timeout": 2.0}
"""Short idle timeout: the session lives only through its keep-alives."""


def tone(seconds: float, rate: int, freq: float = 330.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * freq * t) * 0.4).astype(np.float32)


async def voiced_after(s: LiveAvatarSession, start: float, limit: float = 5.0) -> float:
    """Seconds from ``start`` (monotonic) to the first loud audio frame of the avatar."""
    async with asyncio.timeout(limit):
        async for frame in s.audio():
            if np.abs(frame.to_ndarray()).max() > 1000:
                return time.monotonic() - start
    raise AssertionError("no voiced audio")


def lite(client: LiveAvatarClient, **options: object) -> LiveAvatarSession:
    options = {"keep_alive_interval": 0.5, **options}
    return client.session(avatar_id=AVATAR, mode="lite", quality="low", **options)  # type: ignore[arg-type]


@pytest.mark.timeout(90)
def test_lite_speaks_every_kind_of_input(sdk: Sdk, emu: Emu, tmp_path: Path) -> None:
    wav = tmp_path / "speech.wav"
    pcm16 = (tone(0.8, 16000) * 32767).astype("<i2")
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(pcm16.tobytes())
    stereo = np.repeat((tone(0.7, 48000) * 32767).astype("<i2")[:, None], 2, axis=1)

    async def scenario() -> dict[str, object]:
        async with LiveAvatarClient(api_key=KEY, base_url=emu.base_url) as client:
            async with lite(client) as s:
                events = s.events()
                t0 = time.monotonic()
                voiced = asyncio.ensure_future(voiced_after(s, t0))
                first = await s.speak_audio(stereo.tobytes(), sample_rate=48000, channels=2)
                latency = await voiced
                ids = [first]
                ids.append(await s.speak_audio(tone(0.6, 22050), sample_rate=22050))
                ids.append(await s.speak_audio(wav, wait=True))
                spoken = time.monotonic() - t0
                # idle_timeout is 2 s: only the socket keep-alives keep it alive
                await asyncio.sleep(2.5)
                alive = s.state
            seen = [e async for e in events]
        return {"ids": ids, "events": seen, "latency": latency, "spoken": spoken, "alive": alive}

    out = sdk.run(scenario(), 80)
    events = out["events"]
    assert isinstance(events, list)
    for speech_id in out["ids"]:  # type: ignore[attr-defined]
        started = [
            i
            for i, e in enumerate(events)
            if isinstance(e, SpeakStarted) and e.speech_id == speech_id
        ]
        ended = [
            i
            for i, e in enumerate(events)
            if isinstance(e, SpeakEnded) and e.speech_id == speech_id
        ]
        assert started and ended and started[0] < ended[0], speech_id
    assert any(isinstance(e, AgentState) and e.state == "talking" for e in events)
    assert out["latency"] < 2.0  # type: ignore[operator]
    assert out["spoken"] >= 0.7 + 0.6 + 0.8 - 0.3  # type: ignore[operator]
    assert out["alive"] == "connected"
    assert events[-1].reason is LiveAvatarEndReason.CLOSED


@pytest.mark.timeout(60)
def test_streamed_input_speaks_before_it_ends(sdk: Sdk, emu: Emu) -> None:
    """An LLM->TTS pipeline: 100 ms pieces at real time; speaking starts long before the
    last piece and the avatar does not starve between pieces."""

    async def scenario() -> tuple[float, float, list[object]]:
        async with LiveAvatarClient(api_key=KEY, base_url=emu.base_url) as client:
            async with lite(client) as s:
                piece = tone(0.1, 24000)
                done_at: list[float] = []

                async def tts() -> AsyncIterator[np.ndarray]:
                    for _ in range(30):  # 3 s of audio over 3 s
                        yield piece
                        await asyncio.sleep(0.1)
                    done_at.append(time.monotonic())

                events = s.events()
                t0 = time.monotonic()
                voiced = asyncio.ensure_future(voiced_after(s, t0))
                speech_id = await s.speak_audio(tts(), sample_rate=24000, wait=True)
                first_voice = await voiced
            seen = [e async for e in events if getattr(e, "speech_id", None) == speech_id]
            return first_voice, done_at[0] - t0, seen

    first_voice, input_done, seen = sdk.run(scenario(), 50)
    assert first_voice < 1.5 < input_done
    starts = [e for e in seen if isinstance(e, SpeakStarted)]
    ends = [e for e in seen if isinstance(e, SpeakEnded)]
    assert len(starts) == 1 and len(ends) == 1  # one utterance, never starved into two


@pytest.mark.timeout(60)
def test_interrupt_stops_the_sender_and_returns_on_confirmation(sdk: Sdk, emu: Emu) -> None:
    async def scenario() -> tuple[float, str, list[object], float]:
        async with LiveAvatarClient(api_key=KEY, base_url=emu.base_url) as client:
            async with lite(client) as s:
                events = s.events()
                long_speech = asyncio.ensure_future(
                    s.speak_audio(tone(8.0, 24000), sample_rate=24000, wait=True)
                )
                async for event in events:
                    if isinstance(event, SpeakStarted):
                        break
                t0 = time.monotonic()
                await s.interrupt()
                took = time.monotonic() - t0
                speech_id = await asyncio.wait_for(long_speech, 2)
                t1 = time.monotonic()
                after = await s.speak_audio(tone(0.3, 24000), sample_rate=24000, wait=True)
                again = time.monotonic() - t1
            seen = [e async for e in events]
            assert after != speech_id
            return took, speech_id, seen, again

    took, speech_id, seen, again = sdk.run(scenario(), 50)
    assert took < 2.0
    assert any(isinstance(e, Interrupted) and e.speech_id == speech_id for e in seen)
    assert any(e.type == "agent.audio_buffer_cleared" for e in seen)  # type: ignore[attr-defined]
    assert again < 3.0  # speaking works again at once


@pytest.mark.timeout(60)
def test_a_dropped_socket_is_opened_again(sdk: Sdk, emu: Emu) -> None:
    async def scenario() -> tuple[str, bool]:
        async with (
            LiveAvatarClient(api_key=KEY, base_url=emu.base_url) as client,
            lite(client) as s,
        ):
            dropped = await emu.loop.arun(emu.faults.drop_lite_socket(s.session_id))
            assert dropped == 1
            await asyncio.sleep(0.5)
            speech_id = await s.speak_audio(tone(0.4, 24000), sample_rate=24000, wait=True)
            return str(s.state), bool(speech_id)

    state, spoke = sdk.run(scenario(), 50)
    assert state == "connected" and spoke
