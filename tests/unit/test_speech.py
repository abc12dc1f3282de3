"""SpeechTracker (``speak(wait=True)``) and Lifecycle (the session's state and waits)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from heygen_streaming import EndReason, SessionClosed, SessionState, TaskInfo
from heygen_streaming._v1.speech import SpeechTracker
from heygen_streaming._v1.state import Lifecycle

S = SessionState


def _tracker() -> tuple[SpeechTracker, Lifecycle]:
    life = Lifecycle(lambda: "sid")
    return SpeechTracker(life), life


async def test_speech_wait_uses_duration_and_interrupt() -> None:
    tracker, _ = _tracker()
    mark = tracker.mark()
    task = TaskInfo(task_id="a", duration_ms=60_000)
    tracker.queued(task)
    waiter = asyncio.ensure_future(tracker.wait_done(task, mark))
    await asyncio.sleep(0)
    assert not waiter.done()
    tracker.interrupted()
    async with asyncio.timeout(5):
        await waiter


async def test_speech_wait_prefers_server_events() -> None:
    tracker, _ = _tracker()
    tracker.talking_started("a")
    mark = tracker.mark()
    task = TaskInfo(task_id="a", duration_ms=0)
    tracker.queued(task)
    waiter = asyncio.ensure_future(tracker.wait_done(task, mark))
    await asyncio.sleep(0.05)
    assert not waiter.done()  # duration passed, but the server has not said "stopped"
    tracker.talking_stopped("a")
    async with asyncio.timeout(5):
        await waiter


async def test_speech_wait_raises_when_the_session_ends() -> None:
    tracker, life = _tracker()
    life.transition(S.CONNECTING)
    life.transition(S.CONNECTED)
    mark = tracker.mark()
    task = TaskInfo(task_id="a", duration_ms=60_000)
    tracker.queued(task)
    waiter = asyncio.ensure_future(tracker.wait_done(task, mark))
    await asyncio.sleep(0)
    life.transition(S.FAILED, EndReason.WATCHDOG, "no media")
    with pytest.raises(SessionClosed) as info:
        async with asyncio.timeout(5):
            await waiter
    assert info.value.reason == "watchdog"


def test_speech_queues_durations() -> None:
    tracker, _ = _tracker()
    t0 = time.monotonic()
    tracker.queued(TaskInfo(task_id="a", duration_ms=1000))
    tracker.queued(TaskInfo(task_id="b", duration_ms=1000))
    assert tracker.speaking_until - t0 >= 2.0


async def test_speak_wait_is_cancellable() -> None:
    tracker, life = _tracker()
    task = TaskInfo(task_id="a", duration_ms=60_000)
    mark = tracker.mark()
    tracker.queued(task)
    waiter = asyncio.ensure_future(tracker.wait_done(task, mark))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert not life._waiters


def test_transitions_follow_the_diagram_and_record_the_first_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="heygen_streaming")
    life = Lifecycle(lambda: "sid")
    assert not life.transition(S.CONNECTED)  # not from new
    assert life.transition(S.CONNECTING) and life.transition(S.CONNECTED)
    assert life.transition(S.FAILED, EndReason.REMOTE_CLOSED, "gone")
    assert not life.transition(S.FAILED, EndReason.WATCHDOG, "later")  # the first end wins
    assert life.transition(S.CLOSING) and life.transition(S.CLOSED)
    assert not life.transition(S.CONNECTING)  # single use
    assert (life.end_reason, life.end_message) == (EndReason.REMOTE_CLOSED, "gone")
    assert "session sid: connected -> failed (remote_closed: gone)" in caplog.text


async def test_every_waiter_wakes_on_a_transition() -> None:
    life = Lifecycle(lambda: "sid")
    waiters = [
        asyncio.ensure_future(life.wait_for(lambda: life.state is not S.NEW)) for _ in range(3)
    ]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    life.transition(S.CLOSING)
    async with asyncio.timeout(5):
        await asyncio.gather(*waiters)
    assert life.end_reason is EndReason.CLOSED


@pytest.mark.parametrize("duration_ms", [float("nan"), float("inf"), -5000.0])
async def test_a_duration_that_is_none_does_not_hang_or_cut_the_wait(
    duration_ms: float, caplog: pytest.LogCaptureFixture
) -> None:
    """A hostile ``duration_ms`` counts as unknown: without talking events the wait ends at
    once (it used to hang on NaN/inf); with them it lasts until "stopped talking"."""
    tracker, _ = _tracker()
    mark = tracker.mark()
    task = TaskInfo(task_id="a", duration_ms=duration_ms)
    tracker.queued(task)
    async with asyncio.timeout(5):
        await tracker.wait_done(task, mark)
    assert "not a duration" in caplog.text
    tracker.talking_started("b")
    mark = tracker.mark()
    task = TaskInfo(task_id="b", duration_ms=duration_ms)
    tracker.queued(task)
    waiter = asyncio.ensure_future(tracker.wait_done(task, mark))
    await asyncio.sleep(0.05)
    assert not waiter.done()  # a negative duration no longer ends it early
    tracker.talking_stopped("b")
    async with asyncio.timeout(5):
        await waiter


def test_a_huge_duration_is_capped() -> None:
    tracker, _ = _tracker()
    tracker.queued(TaskInfo(task_id="a", duration_ms=1e300))
    assert tracker.speaking_until <= time.monotonic() + 3600.0


def test_end_reasons_are_snake_case_and_the_old_spellings_still_resolve() -> None:
    assert all(reason.value == reason.value.lower().replace("-", "_") for reason in EndReason)
    for old, reason in [
        ("connect-timeout", EndReason.CONNECT_TIMEOUT),
        ("connect-failed", EndReason.CONNECT_FAILED),
        ("connection-failed", EndReason.CONNECTION_FAILED),
        ("remote-closed", EndReason.REMOTE_CLOSED),
    ]:
        assert EndReason(old) is reason
    with pytest.raises(ValueError):
        EndReason("no-such-reason")
