"""The machinery every session kind shares (``_sessions``), with a made-up third kind."""

from __future__ import annotations

import asyncio
import enum

import pytest

from heygen_streaming import ConfigurationError, NotFoundError
from heygen_streaming._http.client import outlast
from heygen_streaming._sessions import (
    Lifecycle,
    SessionRegistry,
    TrackedSession,
    check_options,
    end_on_server,
)


class Phase(enum.StrEnum):
    IDLE = "idle"
    LIVE = "live"
    DONE = "done"


TABLE = {
    Phase.IDLE: frozenset({Phase.LIVE, Phase.DONE}),
    Phase.LIVE: frozenset({Phase.DONE}),
    Phase.DONE: frozenset(),
}


class Kind:
    """A third session kind, as LiveAvatar's would plug in."""

    def __init__(self, close_seconds: float = 0.0, bound: float = 1.0) -> None:
        self.life: Lifecycle[Phase, str] = Lifecycle(
            Phase.IDLE,
            TABLE,
            frozenset({Phase.DONE}),
            default_reason=lambda _: "closed",
            label=lambda: "kind",
        )
        self.close_seconds = close_seconds
        self.bound = bound
        self.closes = 0
        self._close: asyncio.Task[None] | None = None

    @property
    def close_bound(self) -> float:
        return self.bound

    @property
    def needs_close(self) -> bool:
        return self.life.state is not Phase.IDLE and (self._close is None or not self._close.done())

    async def aclose_quietly(self) -> None:
        if self._close is None:
            self._close = asyncio.ensure_future(self._cleanup())
        await asyncio.shield(self._close)

    async def _cleanup(self) -> None:
        self.closes += 1
        await asyncio.sleep(self.close_seconds)
        self.life.transition(Phase.DONE)


def test_a_new_kind_is_a_tracked_session() -> None:
    session: TrackedSession = Kind()  # the protocol is all the registry needs
    assert session.close_bound == 1.0


def test_lifecycle_follows_its_table_and_keeps_the_first_end() -> None:
    life = Kind().life
    assert not life.ended
    assert life.transition(Phase.LIVE) and not life.transition(Phase.IDLE)
    assert life.transition(Phase.DONE, "gone", "the far end left")
    assert not life.transition(Phase.DONE, "later")
    assert (life.end_reason, life.end_message, life.ended) == ("gone", "the far end left", True)


async def test_registry_closes_open_sessions_and_waits_for_closes_in_flight() -> None:
    registry = SessionRegistry()
    idle, live, closing = Kind(), Kind(), Kind(close_seconds=0.2)
    for session in (idle, live, closing):
        registry.add(session)
    live.life.transition(Phase.LIVE)
    closing.life.transition(Phase.LIVE)
    in_flight = asyncio.ensure_future(closing.aclose_quietly())
    await asyncio.sleep(0)
    async with asyncio.timeout(5):
        await registry.aclose()
    assert closing.life.state is Phase.DONE  # waited for, not skipped
    assert (idle.closes, live.closes, closing.closes) == (0, 1, 1)
    assert live.life.end_reason == "closed"
    await in_flight


async def test_registry_gives_up_after_the_longest_bound_plus_the_margin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("heygen_streaming._sessions.registry.CLOSE_MARGIN", 0.1)
    registry = SessionRegistry()
    stuck = Kind(close_seconds=60.0, bound=0.1)
    stuck.life.transition(Phase.LIVE)
    registry.add(stuck)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(5):
        await registry.aclose()
    assert 0.15 < loop.time() - started < 2.0
    assert stuck._close is not None
    stuck._close.cancel()


async def test_registry_outlasts_a_caller_cancelled_again_and_again() -> None:
    """The client's close waits for its sessions' closes although its task is cancelled
    on every loop iteration (an anyio cancel scope), then raises that cancellation: it
    closes its HTTP client only after (issue 18, item 1)."""
    registry = SessionRegistry()
    slow = Kind(close_seconds=0.3)
    slow.life.transition(Phase.LIVE)
    registry.add(slow)
    closing = asyncio.ensure_future(registry.aclose())
    loop = asyncio.get_running_loop()

    def pester() -> None:
        if not closing.done():
            closing.cancel()
            loop.call_soon(pester)

    loop.call_soon(pester)
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(5):
            await closing
    assert slow.life.state is Phase.DONE  # not cut short


async def test_outlast_returns_the_result_and_raises_the_first_cancellation() -> None:
    assert await outlast(asyncio.sleep(0, "done")) == "done"
    work = asyncio.ensure_future(asyncio.sleep(0.2, "late"))
    caller = asyncio.ensure_future(outlast(work))
    await asyncio.sleep(0.01)
    caller.cancel("first")
    await asyncio.sleep(0.01)
    caller.cancel("second")
    with pytest.raises(asyncio.CancelledError, match="first"):
        await caller
    assert work.result() == "late"


async def test_end_on_server_sends_again_when_cancelled_and_counts_not_found() -> None:
    calls: list[float] = []
    answers: list[BaseException | None] = [None]

    async def call(remaining: float) -> None:
        calls.append(remaining)
        if len(calls) == 1:
            await asyncio.sleep(10)  # cancelled while in flight
        outcome = answers.pop()
        if outcome is not None:
            raise outcome

    sender = asyncio.ensure_future(end_on_server(call, 5.0, what="end", budget_name="t"))
    await asyncio.sleep(0.05)
    sender.cancel()  # a program's exit cancels every task once
    assert await sender is None
    assert len(calls) == 2 and calls[1] < 5.0
    gone = NotFoundError("gone", status=404)
    answers.append(gone)
    assert await end_on_server(call, 5.0, what="end", budget_name="t") is None
    answers.append(RuntimeError("boom"))
    assert await end_on_server(call, 5.0, what="end", budget_name="t") == "RuntimeError: boom"


async def test_end_on_server_gives_up_after_its_budget() -> None:
    async def never(remaining: float) -> None:
        await asyncio.sleep(remaining + 1)

    cause = await end_on_server(never, 0.1, what="end", budget_name="cancel_timeout")
    assert cause == "no answer within cancel_timeout=0.1 s"


@pytest.mark.parametrize(
    ("durations", "capacities", "match"),
    [
        ({"a": 0}, {}, "a must be positive"),
        ({"a": None}, {}, "a cannot be None"),
        ({"b": -1}, {}, r"b must be positive \(or None: off\)"),
        ({"a": "5"}, {}, "a must be a number"),
        ({"a": True}, {}, "a must be a number"),
        ({}, {"video_capacity": 0}, "video_capacity"),
        ({}, {"video_capacity": 2.5}, "video_capacity"),
    ],
)
def test_check_options(
    durations: dict[str, object], capacities: dict[str, object], match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match):
        check_options(durations, optional=("b",), capacities=capacities)
    check_options({"a": 1, "b": None}, optional=("b",), capacities={"c": 1})
