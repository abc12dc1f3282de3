"""The official LiveKit Python client (``livekit``; no SDK code) in LiveAvatar sessions of the
emulator, driven by plain HTTP calls, on both signalling paths: FULL (speak_text, the user's
microphone, session.stopped) and LITE (a known signal through ``ws_url`` comes back in the
room's audio).

Emulator in namespace ``ns_a``, the user's backend and the client in ``ns_b``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import aiohttp
import numpy as np
import pytest

from heygen_streaming.emulator import Emulator
from heygen_streaming.emulator.avatar import FPS
from heygen_streaming.emulator.liveavatar.full import NO_SPEECH_RECOGNITION
from netns import JsonLinesProcess, NetnsLoop

from ._rest import start_session, stop_session

pytestmark = [
    pytest.mark.netns,
    pytest.mark.requires_tool("ip", package="iproute2"),
    pytest.mark.timeout(120),
]

PATHS = [pytest.param(True, id="rtc-v1"), pytest.param(False, id="rtc-v0")]
MIN_FPS = 0.8 * FPS  # 25 fps nominal: allow for a loaded 2-core machine
RATE = 48_000


def join(client: JsonLinesProcess, data: dict[str, Any], single_pc: bool) -> None:
    """Connect, see the avatar's tracks, and check the video rate and the audio."""
    client.send(
        cmd="connect",
        url=data["livekit_url"],
        token=data["livekit_client_token"],
        single_pc=single_pc,
    )
    client.expect("connected", 20)
    video = client.expect("track_subscribed", 10, kind="video", identity="heygen")
    assert video["mime"].lower() == "video/h264"
    client.expect("track_subscribed", 10, kind="audio", identity="heygen")
    client.send(cmd="measure", seconds=1.5)
    media = client.expect("media", 10)
    assert media["fps"] >= MIN_FPS, media
    assert (media["width"], media["height"]) == (640, 360)
    assert media["audio_frames"] >= 100  # 10 ms frames


def event(client: JsonLinesProcess, event_type: str, within: float = 10.0) -> dict[str, Any]:
    """The next FULL event of ``event_type`` on ``agent-response`` (with the client's ``t``)."""
    while True:
        got = client.expect("data_received", within, topic="agent-response")
        payload: dict[str, Any] = json.loads(got["payload"])
        if payload["event_type"] == event_type:
            return {**payload, "t": got["t"], "identity": got["identity"]}


def recording(client: JsonLinesProcess) -> tuple[np.ndarray, float]:
    client.send(cmd="recorded")
    got = client.expect("recorded", 10)
    audio = np.frombuffer(base64.b64decode(got["audio"]), np.int16).astype(np.float64) / 32768
    return audio, float(got["t0"])


def rms(audio: np.ndarray, t0: float, start: float, end: float) -> float:
    window = audio[max(0, int((start - t0) * RATE)) : max(0, int((end - t0) * RATE))]
    return float(np.sqrt(np.mean(window**2))) if window.size else 0.0


@pytest.mark.parametrize("single_pc", PATHS)
def test_full_session_speaks_listens_and_stops(
    emulator: Emulator,
    backend: NetnsLoop,
    la_client: JsonLinesProcess,
    single_pc: bool,
) -> None:
    token, data = backend.run(start_session(emulator.base_url, "FULL"))
    sid = data["session_id"]
    assert data["ws_url"] is None
    join(la_client, data, single_pc)

    la_client.send(cmd="record")
    command = {"event_type": "avatar.speak_text", "event_id": "e-1", "text": "Hello from the test"}
    la_client.send(cmd="send_data", payload=json.dumps(command), topic="agent-control")
    started = event(la_client, "avatar.speak_started")
    assert started["source_event_id"] == "e-1" and started["session_id"] == sid
    assert started["identity"] == f"liveavatar-agent-{sid}"
    said = event(la_client, "avatar.transcription")
    assert said["text"] == "Hello from the test"
    ended = event(la_client, "avatar.speak_ended", 15)
    assert ended["source_event_id"] == "e-1"
    audio, t0 = recording(la_client)
    voiced = rms(audio, t0, started["t"] + 0.2, ended["t"] - 0.1)
    before = rms(audio, t0, t0, started["t"] - 0.05)
    assert voiced > 0.03 and voiced > 10 * before, (voiced, before)

    # The user's microphone: energy voice detection, no speech recognition, a stand-in reply.
    la_client.send(cmd="speak_into_mic", seconds=0.8)
    la_client.expect("published", 10)
    event(la_client, "user.speak_started")
    event(la_client, "user.speak_ended")
    assert event(la_client, "user.transcription")["text"] == NO_SPEECH_RECOGNITION
    event(la_client, "avatar.speak_started")

    backend.run(stop_session(emulator.base_url, token))
    stopped = event(la_client, "session.stopped")
    assert stopped["stop_reason"] == stopped["end_reason"] == "USER_CLOSED"
    assert la_client.expect("disconnected", 10)["reason"] == "ROOM_DELETED"


def known_signal(seconds: float = 1.2) -> np.ndarray:
    """A chirp with an on/off pattern: easy to find again after Opus (24 kHz, -1..1)."""
    t = np.arange(int(24_000 * seconds)) / 24_000
    chirp = np.sin(2 * np.pi * (200 * t + 900 * t**2))
    gate = (np.floor(t * 10) % 3 != 2).astype(np.float64)
    return 0.4 * chirp * gate


async def speak_over_lite(ws_url: str, pcm: bytes) -> list[dict[str, Any]]:
    """Send ``pcm`` as agent.speak chunks of odd sizes under one id, then speak_end; the
    events until agent.speak_ended."""
    events: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url) as ws:
        while True:
            events.append(json.loads((await ws.receive()).data))
            if events[-1].get("state") == "connected":
                break
        offset, sizes = 0, [9600, 4802, 30000]
        while offset < len(pcm):
            size = sizes[len(events) % 3]
            chunk = base64.b64encode(pcm[offset : offset + size]).decode()
            await ws.send_str(
                json.dumps({"type": "agent.speak", "event_id": "sig", "audio": chunk})
            )
            offset += size
        await ws.send_str(json.dumps({"type": "agent.speak_end", "event_id": "sig"}))
        while events[-1]["type"] != "agent.speak_ended":
            events.append(json.loads((await ws.receive()).data))
    return events


def _normalised(received: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Normalised cross-correlation of ``reference`` at every lag inside ``received``."""
    n = len(received) + len(reference)
    size = 1 << (n - 1).bit_length()
    spectrum = np.fft.rfft(received, size) * np.conj(np.fft.rfft(reference, size))
    corr = np.fft.irfft(spectrum, size)[: len(received) - len(reference) + 1]
    energy = np.convolve(received**2, np.ones(len(reference)), "valid")
    return corr / np.sqrt(np.maximum(energy, 1e-12) * max(np.sum(reference**2), 1e-12))


def windowed_correlation(received: np.ndarray, reference: np.ndarray) -> list[float]:
    """Each 100 ms window of ``reference`` (where it is not silent), found again in
    ``received`` within 40 ms of where the whole signal lines up best: its peak normalised
    correlation. Windows make the score robust to the receiver's jitter buffer, which may
    stretch or squeeze the audio slightly."""
    whole = _normalised(received, reference)
    lag = int(np.argmax(whole))
    width, slack = RATE // 10, RATE // 25
    scores = []
    for start in range(0, len(reference) - width + 1, width):
        window = reference[start : start + width]
        if np.sqrt(np.mean(window**2)) < 0.05:
            continue
        lo = max(0, lag + start - slack)
        region = received[lo : lag + start + width + slack]
        if len(region) >= width:
            scores.append(float(np.max(_normalised(region, window))))
    return scores


@pytest.mark.parametrize("single_pc", PATHS)
def test_lite_audio_comes_back_in_the_room(
    emulator: Emulator,
    backend: NetnsLoop,
    la_client: JsonLinesProcess,
    single_pc: bool,
    record_property: Any,
) -> None:
    token, data = backend.run(start_session(emulator.base_url, "LITE"))
    assert data["ws_url"]
    join(la_client, data, single_pc)
    signal = known_signal()
    la_client.send(cmd="record")
    events = backend.run(speak_over_lite(data["ws_url"], (signal * 32767).astype("<i2").tobytes()))
    kinds = [e["type"] for e in events]
    assert kinds.count("agent.audio_buffer_appended") >= 2
    assert kinds.index("agent.audio_buffer_committed") < kinds.index("agent.speak_ended")
    assert kinds.index("agent.speak_started") < kinds.index("agent.speak_ended")
    la_client.send(cmd="measure", seconds=0.5)  # let the tail of the audio arrive
    la_client.expect("media", 5)
    audio, _ = recording(la_client)
    reference = np.repeat(signal, 2)  # the same signal at 48 kHz (for correlation only)
    scores = windowed_correlation(audio, reference)
    record_property("lite_window_correlation", np.round(scores, 3).tolist())
    assert len(scores) >= 7, scores  # the signal's voiced windows were all found
    assert float(np.median(scores)) > 0.9 and min(scores) > 0.5, np.round(scores, 2)
    backend.run(stop_session(emulator.base_url, token))
    assert la_client.expect("disconnected", 10)["reason"] == "ROOM_DELETED"


def test_room_faults_drop_the_media_and_close_the_room(
    emulator: Emulator, backend: NetnsLoop, server_loop: NetnsLoop, la_client: JsonLinesProcess
) -> None:
    token, data = backend.run(start_session(emulator.base_url, "FULL"))
    session_id = data["session_id"]
    join(la_client, data, True)
    assert server_loop.call(emulator.faults.drop_room_media, session_id, 2.0) == 1
    la_client.send(cmd="measure", seconds=1.0)
    assert la_client.expect("media", 10)["video_frames"] <= 5  # the avatar's video stopped
    la_client.send(cmd="measure", seconds=3.0)  # ... and comes back after 2 s
    assert la_client.expect("media", 10)["video_frames"] >= 25
    closed = server_loop.run(emulator.faults.close_room(session_id, "SERVER_SHUTDOWN"))
    assert closed == 1
    assert la_client.expect("disconnected", 10)["reason"] == "SERVER_SHUTDOWN"
    session = server_loop.call(emulator.liveavatar.registry.find, session_id)
    assert session.live  # until the viewer has been gone for the grace period
    backend.run(stop_session(emulator.base_url, token))
    assert server_loop.run(session.wait_closed(), 5) == "USER_CLOSED"
