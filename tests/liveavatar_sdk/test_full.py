"""A FULL session end to end against the emulator, through the SDK and the official livekit
client: frames, speech and its events, listening, the microphone, recording, transcript,
a session made by a backend's token, and nothing left active afterwards."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from heygen_streaming import LiveAvatarClient, LiveAvatarEndReason, LiveAvatarState, SessionClosed
from heygen_streaming.liveavatar import (
    SessionEnded,
    SpeakEnded,
    SpeakStarted,
    StateChanged,
    Transcription,
    UserSpeaking,
)

from .conftest import AVATAR, KEY, Emu, Sdk

pytestmark = [pytest.mark.netns, pytest.mark.requires_tool("ip", package="iproute2")]


@pytest.mark.timeout(90)
def test_full_session_end_to_end(sdk: Sdk, emu: Emu, tmp_path: Path) -> None:
    async def scenario() -> dict[str, object]:
        out: dict[str, object] = {}
        async with LiveAvatarClient(api_key=KEY, base_url=emu.base_url) as client:
            session = client.session(avatar_id=AVATAR, mode="full", quality="low")
            async with session as s:
                assert s.state is LiveAvatarState.CONNECTED
                events = s.events()
                frames = []
                async for frame in s.video():
                    frames.append(frame)
                    if len(frames) == 5:
                        break
                out["video"] = (frames[-1].width, frames[-1].height, frames[-1].format.name)
                audio = await anext(aiter(s.audio(sample_rate=16000)))
                out["audio"] = (audio.sample_rate, audio.format.name)

                speech_id = await s.speak("Hello from the SDK test.", wait=True)
                out["speech_id"] = speech_id
                reply = await s.respond("What can you do?")
                await s.start_listening()
                await s.stop_listening()
                # a burst of tone on the microphone: the service hears the user speak
                tone = np.sin(np.arange(48000) / 48000 * 2 * np.pi * 440) * 0.3
                sent = await s.send_audio(tone.astype(np.float32), sample_rate=48000)
                out["sent"] = sent
                await s.interrupt()
                info = await s.record(tmp_path / "full.mp4", duration=1.0)
                out["recorded"] = (info.video_frames, info.audio_frames)
                out["transcript"] = [e.text for e in (await s.transcript()).entries]
                out["reply"] = reply
                sid = s.session_id
            seen = [e async for e in events]
            out["events"] = seen
            out["end"] = (s.state, s.end_reason, s.stop_error)
            out["active"] = [x.id for x in await client.list_sessions(active=True)]
            out["history"] = await client.get_session(sid)
        return out

    out = sdk.run(scenario(), 80)
    assert out["video"] == (640, 360, "yuv420p")
    assert out["audio"] == (16000, "s16")
    events = out["events"]
    assert isinstance(events, list)
    kinds = [type(e) for e in events]
    assert StateChanged in kinds or SpeakStarted in kinds
    speech = out["speech_id"]
    started = [e for e in events if isinstance(e, SpeakStarted) and e.speech_id == speech]
    ended = [e for e in events if isinstance(e, SpeakEnded) and e.speech_id == speech]
    assert started and ended and events.index(started[0]) < events.index(ended[0])
    said = [e for e in events if isinstance(e, Transcription) and e.role == "avatar"]
    assert "Hello from the SDK test." in [e.text for e in said]
    assert any(isinstance(e, UserSpeaking) and e.speaking for e in events)
    assert isinstance(events[-1], SessionEnded) and events[-1].reason is LiveAvatarEndReason.CLOSED
    assert out["sent"] == pytest.approx(1.0, abs=0.05)
    video_frames, audio_frames = out["recorded"]  # type: ignore[misc]
    assert video_frames >= 10 and audio_frames >= 10
    with av.open(str(tmp_path / "full.mp4")) as container:
        assert container.streams.video and container.streams.audio
    assert "Hello from the SDK test." in out["transcript"]  # type: ignore[operator]
    assert out["end"] == (LiveAvatarState.CLOSED, LiveAvatarEndReason.CLOSED, None)
    assert out["active"] == []
    assert out["history"].stop_reason == "USER_CLOSED"  # type: ignore[attr-defined]


@pytest.mark.timeout(60)
def test_session_from_a_backend_token(sdk: Sdk, emu: Emu) -> None:
    """A frontend with only the session token a backend made: starts, speaks, stops."""

    async def scenario() -> tuple[object, ...]:
        async with LiveAvatarClient(api_key=KEY, base_url=emu.base_url) as backend:
            made = await backend.create_session_token(AVATAR, "full", quality="low")
            async with (
                LiveAvatarClient(token=made.session_token, base_url=emu.base_url) as front,
                front.session() as s,
            ):
                assert s.mode.value == "full"  # read from the token
                await s.speak("Token only.", wait=True)
                sid = s.session_id
            after = await backend.get_session(sid)
            with pytest.raises(SessionClosed):
                await s.speak("again")
        return sid, made.session_id, after.status

    sid, made, status = sdk.run(scenario(), 50)
    assert sid == made and status == "CLOSED"


@pytest.mark.timeout(60)
def test_commands_in_the_wrong_mode_or_state(sdk: Sdk, emu: Emu) -> None:
    async def scenario() -> None:
        async with LiveAvatarClient(api_key=KEY, base_url=emu.base_url) as client:
            s = client.session(avatar_id=AVATAR, quality="low")
            with pytest.raises(Exception, match="not connected"):
                await s.speak("too early")
            async with s:
                with pytest.raises(Exception, match="LITE session"):
                    await s.speak_audio(b"\0\0" * 2400, sample_rate=24000)
            with pytest.raises(SessionClosed):
                s.video()
            with pytest.raises(SessionClosed, match="single use"):
                await s.connect()

    sdk.run(scenario(), 50)


@pytest.mark.timeout(60)
def test_no_secret_in_logs_reprs_or_errors(
    sdk: Sdk, emu: Emu, caplog: pytest.LogCaptureFixture
) -> None:
    """A FULL and a LITE session at DEBUG (every logger, livekit's included), a token
    client, and failing calls: the key, the session tokens, the room tokens and the LITE
    socket URL appear nowhere."""
    import logging

    from heygen_streaming import HeyGenError

    caplog.set_level(logging.DEBUG)

    async def scenario() -> tuple[list[str], list[str]]:
        secrets, texts = [KEY], []
        async with LiveAvatarClient(api_key=KEY, base_url=emu.base_url) as client:
            texts.append(repr(client))
            for mode in ("full", "lite"):
                s = client.session(avatar_id=AVATAR, mode=mode, quality="low")
                async with s:
                    info = s.info
                    secrets += [
                        str(x)
                        for x in (info.livekit_client_token, info.livekit_agent_token, info.ws_url)
                        if x
                    ]
                    secrets.append(s._core.connector.session_token or "")
                    if info.ws_url:  # the LITE socket's own credential, in its query
                        secrets.append(info.ws_url.split("token=", 1)[1])
                    texts += [repr(s), repr(info), str(info), repr(s._core.connector.socket)]
                    if mode == "full":
                        await s.speak("Nothing secret.", wait=True)
                    else:
                        await s.speak_audio(b"\0\1" * 12000, sample_rate=24000, wait=True)
            made = await client.create_session_token(AVATAR, "full")
            secrets.append(made.session_token)
            texts += [repr(made), str(made)]
            async with LiveAvatarClient(token=made.session_token, base_url=emu.base_url) as tok:
                texts.append(repr(tok))
                await tok.stop_session()
                try:
                    await tok.start_session()
                except HeyGenError as exc:
                    texts += [str(exc), repr(exc)]
            async with LiveAvatarClient(api_key=KEY[::-1], base_url=emu.base_url) as bad:
                secrets.append(KEY[::-1])
                try:
                    await bad.credits()
                except HeyGenError as exc:
                    texts += [str(exc), repr(exc)]
        return [x for x in secrets if x], texts

    secrets, texts = sdk.run(scenario(), 50)
    assert len(secrets) >= 8 and any("LiveAvatar session" in r.message for r in caplog.records)
    logs = caplog.text
    for secret in secrets:
        assert secret not in logs
        assert all(secret not in text for text in texts)
