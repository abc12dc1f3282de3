"""Talking events over the emulator's server-created data channel, end to end.

The emulator sends ``avatar_start_talking`` when a task's audio starts playing and
``avatar_stop_talking`` (with the ``duration_ms`` actually played) when it ends or is cut.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from aiortc import RTCDataChannel, RTCSessionDescription

from heygen_streaming import (
    EventStream,
    SessionEvent,
    TalkingStarted,
    TalkingStopped,
)
from heygen_streaming.emulator import Emulator

from ._rawclient import RawClient
from ._session_util import WAIT, make_client

pytestmark = pytest.mark.timeout(90)

# About 42 s of speech: far longer than any wait below, so only a stop event ends it early.
LONG_TEXT = "This sentence keeps the synthetic avatar talking for a long while. " * 9


async def next_of(
    stream: EventStream, kind: type[SessionEvent] | tuple[type[SessionEvent], ...]
) -> Any:
    """The next event of ``kind`` from ``stream``."""
    async with asyncio.timeout(WAIT):
        async for event in stream:
            if isinstance(event, kind):
                return event
    raise AssertionError(f"the event stream ended before a {kind}")


async def test_events_report_talking_and_wait_returns_on_the_stop_event(
    emulator: Emulator, api_key: str
) -> None:
    async with (
        make_client(emulator.base_url, api_key) as client,
        client.session(quality="low", connect_timeout=WAIT) as s,
    ):
        events = s.events()
        task = await s.speak("Hello, talking events!", wait=True)
        returned_at = time.time()
        server = emulator.get_session(s.session_id)
        assert server is not None and server.peer is not None
        assert server.peer.channel.readyState == "open"  # the SDK's answer accepted SCTP
        started = await next_of(events, TalkingStarted)
        stopped = await next_of(events, TalkingStopped)
        assert started.task_id == stopped.task_id == task.task_id
        assert started.at <= stopped.at <= returned_at  # wait=True returned after the stop
        # duration_ms is what was played: the whole utterance
        assert stopped.duration_ms is not None and task.duration_ms is not None
        assert abs(stopped.duration_ms - task.duration_ms) <= 1

        # Two queued tasks: events in order, each matched to its own task_id.
        first = await s.speak("First of two.")
        second = await s.speak("Second of two.", wait=True)
        order = [await next_of(events, (TalkingStarted, TalkingStopped)) for _ in range(4)]
        assert [(type(e), e.task_id) for e in order] == [
            (TalkingStarted, first.task_id),
            (TalkingStopped, first.task_id),
            (TalkingStarted, second.task_id),
            (TalkingStopped, second.task_id),
        ]
        events.close()


async def test_interrupt_elsewhere_ends_a_concurrent_wait_through_the_stop_event(
    emulator: Emulator, api_key: str
) -> None:
    async with (
        make_client(emulator.base_url, api_key) as client,
        client.session(quality="low", connect_timeout=WAIT) as s,
    ):
        events = s.events()
        speaking = asyncio.ensure_future(s.speak(LONG_TEXT, wait=True))
        started = await next_of(events, TalkingStarted)
        # Interrupt through the low-level client: the Session does not know about it, so
        # only the server's avatar_stop_talking can end the wait (the estimate is ~42 s).
        await client.interrupt(s.session_id)
        task = await asyncio.wait_for(speaking, WAIT)
        stopped = await next_of(events, TalkingStopped)
        assert started.task_id == stopped.task_id == task.task_id
        assert task.duration_ms is not None and stopped.duration_ms is not None
        assert 0 < stopped.duration_ms < task.duration_ms

        # Session.interrupt() also ends a concurrent wait, and the server reports it.
        speaking = asyncio.ensure_future(s.speak(LONG_TEXT, wait=True))
        again = await next_of(events, TalkingStarted)
        await s.interrupt()
        task = await asyncio.wait_for(speaking, WAIT)
        assert again.task_id == task.task_id
        assert (await next_of(events, TalkingStopped)).task_id == task.task_id
        events.close()


async def _raw_session(
    emulator: Emulator, http: httpx.AsyncClient, *, reject_channel: bool = False
) -> tuple[RawClient, list[dict[str, Any]], asyncio.Event]:
    """A raw aiortc client collecting the data channel's JSON messages."""
    client = RawClient(http)
    messages: list[dict[str, Any]] = []
    arrived = asyncio.Event()

    @client.pc.on("datachannel")
    def on_channel(channel: RTCDataChannel) -> None:
        @channel.on("message")
        def on_message(text: str) -> None:
            messages.append(json.loads(text))
            arrived.set()

    client.info = await client.call("new", {"quality": "low"})
    client.session_id = client.info["session_id"]
    offer = client.info["sdp"]
    await client.pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], offer["type"]))
    await client.pc.setLocalDescription(await client.pc.createAnswer())
    sdp = client.pc.localDescription.sdp
    if reject_channel:  # as a client without SCTP support answers: port 0, not bundled
        head, app = sdp.split("m=application ", 1)
        mid = next(line for line in app.splitlines() if line.startswith("a=mid:"))
        proto = app.splitlines()[0].split(" ", 1)[1]
        sdp = head.replace("a=group:BUNDLE 0 1 2", "a=group:BUNDLE 0 1")
        sdp += f"m=application 0 {proto}\r\nc=IN IP4 0.0.0.0\r\n{mid}\r\n"
    await client.call(
        "start", {"session_id": client.session_id, "sdp": {"type": "answer", "sdp": sdp}}
    )
    return client, messages, arrived


async def _wait_messages(
    messages: list[dict[str, Any]], arrived: asyncio.Event, count: int
) -> None:
    async with asyncio.timeout(WAIT):
        while len(messages) < count:
            arrived.clear()
            await arrived.wait()


async def test_wire_format_of_talking_messages(emulator: Emulator, api_key: str) -> None:
    async with httpx.AsyncClient(
        base_url=emulator.base_url, headers={"X-Api-Key": api_key}
    ) as http:
        client, messages, arrived = await _raw_session(emulator, http)
        try:
            sid = client.session_id
            task = await client.call("task", {"session_id": sid, "text": "Short one."})
            await _wait_messages(messages, arrived, 2)
            assert messages[0] == {"type": "avatar_start_talking", "task_id": task["task_id"]}
            assert messages[1] == {
                "type": "avatar_stop_talking",
                "task_id": task["task_id"],
                "duration_ms": round(task["duration_ms"]),
            }

            # Interrupted: the stop carries what was played.
            task = await client.call("task", {"session_id": sid, "text": LONG_TEXT})
            queued = await client.call("task", {"session_id": sid, "text": "Never played."})
            await _wait_messages(messages, arrived, 3)
            await client.call("interrupt", {"session_id": sid})
            await _wait_messages(messages, arrived, 4)
            stop = messages[3]
            assert stop["type"] == "avatar_stop_talking" and stop["task_id"] == task["task_id"]
            assert set(stop) == {"type", "task_id", "duration_ms"}
            assert 0 < stop["duration_ms"] < task["duration_ms"]
            # The queued task never played: no events for it.
            assert all(m["task_id"] != queued["task_id"] for m in messages)
            await client.call("stop", {"session_id": sid})
        finally:
            await client.close()


async def test_client_rejecting_the_data_channel_still_streams(
    emulator: Emulator, api_key: str
) -> None:
    async with httpx.AsyncClient(
        base_url=emulator.base_url, headers={"X-Api-Key": api_key}
    ) as http:
        client, _, _ = await _raw_session(emulator, http, reject_channel=True)
        try:
            await asyncio.wait_for(client.video.get(), WAIT)
            sid = client.session_id
            await client.call("task", {"session_id": sid, "text": "Nobody hears my events."})
            session = emulator.get_session(sid)
            assert session is not None and session.peer is not None
            assert session.peer.channel_rejected and session.status == "connected"
            await client.call("stop", {"session_id": sid})
            assert emulator.sessions == []
        finally:
            await client.close()
