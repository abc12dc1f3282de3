"""Ends the service decides: each surfaces as ``end_reason`` (the published reason, FULL from
``session.stopped``, LITE asked over REST), ends ``video()`` and ``events()``, and leaving
the block afterwards still cleans up without an error."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest

from heygen_streaming import (
    LiveAvatarClient,
    LiveAvatarEndReason,
    LiveAvatarSession,
    SessionClosed,
)
from heygen_streaming.liveavatar import RawEvent, SessionEnded

from .conftest import AVATAR, KEY, Emu, Sdk

pytestmark = [pytest.mark.netns, pytest.mark.requires_tool("ip", package="iproute2")]

LIVEAVATAR_OPTIONS = {"idle_timeout": 1.5, "rate_limit": None}
R = LiveAvatarEndReason


async def ended(s: LiveAvatarSession, trigger: Any = None) -> dict[str, Any]:
    """Read video and events until the session ends; what each saw."""
    video, events = s.video(), s.events()
    if trigger is not None:
        await trigger
    frames, error = 0, None
    try:
        async with asyncio.timeout(15):
            async for _ in video:
                frames += 1
    except SessionClosed as exc:
        error = exc
    seen = [e async for e in events]
    return {"reason": s.end_reason, "error": error, "last": seen[-1], "events": seen}


def check(out: dict[str, Any], reason: LiveAvatarEndReason) -> None:
    assert out["reason"] is reason, out["reason"]
    assert isinstance(out["error"], SessionClosed) and out["error"].reason == reason
    last = out["last"]
    assert isinstance(last, SessionEnded) and last.reason is reason and last.abnormal


@pytest.mark.timeout(60)
def test_idle_timeout_without_keep_alive(sdk: Sdk, emu: Emu) -> None:
    async def scenario() -> dict[str, Any]:
        async with LiveAvatarClient(api_key=KEY, base_url=emu.base_url) as client:
            s = client.session(avatar_id=AVATAR, quality="low", keep_alive_interval=None)
            async with s:
                out = await ended(s)
            out["closed"] = (s.state, s.stop_error)
            return out

    out = sdk.run(scenario(), 50)
    check(out, R.IDLE_TIMEOUT)
    assert out["closed"] == ("closed", None)


@pytest.mark.timeout(60)
def test_max_duration_in_lite_is_asked_over_rest(sdk: Sdk, emu: Emu) -> None:
    async def scenario() -> dict[str, Any]:
        async with LiveAvatarClient(api_key=KEY, base_url=emu.base_url) as client:
            s = client.session(
                avatar_id=AVATAR, mode="lite", quality="low", max_session_duration=2,
                keep_alive_interval=0.5,
            )  # fmt: skip
            async with s:
                return await ended(s)

    check(sdk.run(scenario(), 50), R.MAX_DURATION_REACHED)


@pytest.mark.timeout(60)
def test_stopped_elsewhere_and_server_error(sdk: Sdk, emu: Emu) -> None:
    async def scenario() -> list[dict[str, Any]]:
        outs = []
        async with LiveAvatarClient(api_key=KEY, base_url=emu.base_url) as client:
            for mode in ("full", "lite"):
                s = client.session(
                    avatar_id=AVATAR, mode=mode, quality="low", keep_alive_interval=0.5
                )
                async with s:
                    outs.append(await ended(s, client.stop_session(s.session_id)))
            s = client.session(avatar_id=AVATAR, quality="low", keep_alive_interval=0.5)
            async with s:
                outs.append(await ended(s, emu.loop.arun(emu.faults.drop_all())))
        return outs

    full, lite, dropped = sdk.run(scenario(), 50)
    check(full, R.USER_CLOSED)
    check(lite, R.USER_CLOSED)
    check(dropped, R.SERVER_ERROR)


@pytest.mark.timeout(60)
def test_room_closed_watchdog_and_a_token_only_client(sdk: Sdk, emu: Emu) -> None:
    """No published reason: the room went away (remote_closed), the media stopped
    (watchdog), and a client with only a session token cannot ask (remote_closed)."""

    async def scenario() -> list[dict[str, Any]]:
        outs = []
        async with LiveAvatarClient(api_key=KEY, base_url=emu.base_url) as client:
            s = client.session(avatar_id=AVATAR, quality="low", keep_alive_interval=0.5)
            async with s:
                close = emu.loop.arun(emu.faults.close_room(s.session_id, "SERVER_SHUTDOWN"))
                outs.append(await ended(s, close))
            s = client.session(
                avatar_id=AVATAR, quality="low", keep_alive_interval=0.5, watchdog_timeout=1.0
            )
            async with s:
                emu.call(emu.faults.drop_room_media, s.session_id, 5.0)
                outs.append(await ended(s))
            made = await client.create_session_token(AVATAR, "lite", quality="low")
            async with LiveAvatarClient(token=made.session_token, base_url=emu.base_url) as front:
                s = front.session(keep_alive_interval=0.5)
                async with s:
                    outs.append(await ended(s, client.stop_session(made.session_id)))
        return outs

    room, watchdog, token_only = sdk.run(scenario(), 50)
    check(room, R.REMOTE_CLOSED)
    check(watchdog, R.WATCHDOG)
    check(token_only, R.REMOTE_CLOSED)


@pytest.mark.timeout(60)
def test_every_published_reason_and_bad_events_from_the_agent(sdk: Sdk, emu: Emu) -> None:
    """The agent's side of the room (its token) publishes garbage, unknown events and
    ``session.stopped`` with the reasons the emulator never produces itself."""
    from livekit import rtc

    async def publish(agent: rtc.Room, url: str, token: str, payloads: list[bytes]) -> None:
        await agent.connect(url, token)
        for payload in payloads:
            await agent.local_participant.publish_data(
                payload, reliable=True, topic="agent-response"
            )

    reasons = ["NO_CREDITS", "AVATAR_DELETED", "ZOMBIE_SESSION_REAP", "AGENT_HANG_UP", "WHAT"]
    expected = [R.NO_CREDITS, R.AVATAR_DELETED, R.ZOMBIE_SESSION_REAP, R.AGENT_HANG_UP, R.UNKNOWN]
    garbage = [
        b"\xff\xfe not json",
        b"[1, 2, 3]",
        b"[" * 25_000 + b"]" * 25_000,
        json.dumps({"event_type": "avatar.speak_started", "source_event_id": {"x": 1}}).encode(),
        json.dumps({"event_type": "something.new", "n": 1}).encode(),
        json.dumps({"event_type": 5}).encode(),
    ]

    async def scenario() -> list[dict[str, Any]]:
        outs = []
        async with LiveAvatarClient(api_key=KEY, base_url=emu.base_url) as client:
            for i, reason in enumerate(reasons):
                s = client.session(avatar_id=AVATAR, quality="low", keep_alive_interval=0.5)
                async with s:
                    stop = json.dumps({"event_type": "session.stopped", "stop_reason": reason})
                    payloads = [*(garbage if i == 0 else []), stop.encode()]
                    info = s.info
                    assert info.livekit_url and info.livekit_agent_token
                    agent = rtc.Room()  # stays until the session ended: its data is flushed
                    trigger = publish(agent, info.livekit_url, info.livekit_agent_token, payloads)
                    try:
                        outs.append(await ended(s, trigger))
                    finally:
                        await agent.disconnect()
        return outs

    outs = sdk.run(scenario(), 55)
    for out, reason in zip(outs, expected, strict=True):
        check(out, reason)
    raw = [e for e in outs[0]["events"] if isinstance(e, RawEvent)]
    kinds = {e.type for e in raw}
    assert {"malformed", "something.new"} <= kinds


@pytest.mark.timeout(60)
def test_keep_alive_outlives_the_idle_timeout_in_full_mode(sdk: Sdk, emu: Emu) -> None:
    """idle_timeout is 1.5 s here: a FULL session doing nothing lives on through its REST
    keep-alives (LITE's go on the socket: test_lite)."""

    async def scenario() -> tuple[str, object]:
        async with LiveAvatarClient(api_key=KEY, base_url=emu.base_url) as client:
            s = client.session(avatar_id=AVATAR, quality="low", keep_alive_interval=0.4)
            async with s:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(3.5):  # over twice the idle timeout
                        await s._core.life.wait_for(lambda: s._core.life.ended)
                return str(s.state), s.end_reason

    assert sdk.run(scenario(), 50) == ("connected", None)
