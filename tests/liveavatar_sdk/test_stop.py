"""The stop that cannot fail: whatever ends the block — cancellation at any point (100
random ones), a second cancellation, an anyio cancel scope, the client's close, a stop
before the room connected — the session is stopped on the service before the block's
task finishes: no session is left active. An unconfirmed stop names the command."""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any

import anyio
import pytest

from heygen_streaming import (
    LiveAvatarClient,
    LiveAvatarEndReason,
    LiveAvatarSession,
    SessionError,
    SessionNotStopped,
)

from .conftest import AVATAR, KEY, Emu, Sdk

pytestmark = [pytest.mark.netns, pytest.mark.requires_tool("ip", package="iproute2")]

LIVEAVATAR_OPTIONS = {"rate_limit": None}
SEED = 1717
POINTS = 100
AT_ONCE = 8


def session(client: LiveAvatarClient, **options: Any) -> LiveAvatarSession:
    mode = options.pop("mode", "full")
    return client.session(avatar_id=AVATAR, mode=mode, quality="low", **options)


async def use(
    client: LiveAvatarClient, mode: str, made: list[LiveAvatarSession] | None = None
) -> None:
    s = session(client, mode=mode)
    if made is not None:
        made.append(s)
    async with s:
        if mode == "full":
            await s.speak("Cancelled somewhere in here.")
        await asyncio.sleep(30)


async def active(base_url: str) -> list[str]:
    async with LiveAvatarClient(api_key=KEY, base_url=base_url) as admin:
        return [s.id for s in await admin.list_sessions(active=True)]


@pytest.mark.timeout(240)
def test_cancelled_at_100_random_points_leaves_nothing_active(sdk: Sdk, emu: Emu) -> None:
    rng = random.Random(SEED)
    points = [rng.uniform(0.0, 1.0) for _ in range(POINTS)]

    phases: list[str] = []

    async def time_to_connect(client: LiveAvatarClient) -> float:
        """Seconds until AT_ONCE sessions opened together are connected (here, now)."""
        loop = asyncio.get_running_loop()
        start = loop.time()

        async def connected(mode: str) -> float:
            async with session(client, mode=mode):
                return loop.time() - start

        return max(await asyncio.gather(*(connected("full") for _ in range(AT_ONCE))))

    async def one(client: LiveAvatarClient, delay: float, mode: str) -> str:
        made: list[LiveAvatarSession] = []
        task = asyncio.ensure_future(use(client, mode, made))
        await asyncio.sleep(delay)
        connector = made[0]._core.connector if made else None
        if connector is None or connector.session_token is None:
            phases.append("before /token answered")
        elif connector.started is None:
            phases.append("before /start answered")
        elif made[0].state != "connected":
            phases.append("joining the room")
        else:
            phases.append("connected")
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return "cancelled"
        except BaseException as exc:  # a stop that failed would show up here
            return f"{type(exc).__name__}: {exc}"
        return "finished"

    async def scenario() -> tuple[list[str], list[str]]:
        outcomes: list[str] = []
        leftovers: list[str] = []
        async with LiveAvatarClient(api_key=KEY, base_url=emu.base_url) as client:
            # the points span the connect as this machine runs it now, and beyond: every
            # phase gets some, however slow the connect (a fixed 0-1 s missed "connected")
            span = max(1.0, 1.5 * await time_to_connect(client))
            delays = [point * span for point in points]
            for start in range(0, POINTS, AT_ONCE):
                batch = delays[start : start + AT_ONCE]
                modes = ["full" if (start + i) % 2 else "lite" for i in range(len(batch))]
                outcomes += await asyncio.gather(
                    *(one(client, d, m) for d, m in zip(batch, modes, strict=True))
                )
                # checked right away: the stop is done when the cancelled task is
                leftovers += await active(emu.base_url)
        return outcomes, leftovers

    outcomes, leftovers = sdk.run(scenario(), 220)
    assert leftovers == [], f"seed {SEED}: sessions left active"
    assert outcomes == ["cancelled"] * POINTS, f"seed {SEED}"
    seen = {phase: phases.count(phase) for phase in set(phases)}
    assert len(seen) == 4 and min(seen.values()) >= 3, seen  # every phase was hit


@pytest.mark.timeout(60)
def test_a_second_cancellation_does_not_abort_the_stop(sdk: Sdk, emu: Emu) -> None:
    async def scenario() -> list[list[str]]:
        left = []
        async with LiveAvatarClient(api_key=KEY, base_url=emu.base_url) as client:
            for first, second in ((0.1, 0.0), (0.25, 0.01), (1.0, 0.0), (1.0, 0.05)):
                task = asyncio.ensure_future(use(client, "full"))
                await asyncio.sleep(first)
                task.cancel()
                await asyncio.sleep(second)
                task.cancel()  # the impatient second Ctrl-C
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                left.append(await active(emu.base_url))
        return left

    assert sdk.run(scenario(), 50) == [[], [], [], []]


@pytest.mark.timeout(60)
def test_anyio_cancel_scopes_stop_the_session(sdk: Sdk, emu: Emu) -> None:
    """anyio (and Trio-style) scopes cancel level-triggered: again and again until the
    scope is left; the cleanup still runs to its end."""

    async def scenario() -> list[object]:
        seen = []
        async with LiveAvatarClient(api_key=KEY, base_url=emu.base_url) as client:
            for limit in (0.05, 0.3, 1.5):
                s = session(client)
                with anyio.move_on_after(limit) as scope:
                    async with s:
                        await anyio.sleep(30)
                seen.append((scope.cancelled_caught, s.state, await active(emu.base_url)))
            # a scope cancelled from outside, while the session speaks
            s = session(client)
            async with anyio.create_task_group() as group:

                async def speaker() -> None:
                    async with s:
                        await s.speak("Scoped.", wait=True)
                        await anyio.sleep(30)

                group.start_soon(speaker)
                await anyio.sleep(1.5)
                group.cancel_scope.cancel()
            seen.append((s.state, await active(emu.base_url)))
        return seen

    seen = sdk.run(scenario(), 50)
    for caught, state, left in seen[:3]:  # type: ignore[misc]
        assert caught and state == "closed" and left == []
    assert seen[3] == ("closed", [])


@pytest.mark.timeout(60)
def test_the_clients_close_stops_its_sessions(sdk: Sdk, emu: Emu) -> None:
    async def scenario() -> tuple[list[str], list[str], object, object]:
        client = LiveAvatarClient(api_key=KEY, base_url=emu.base_url)
        open_one = session(client)
        await open_one.connect()  # never closed by its owner
        connecting = session(client, mode="lite")
        pending = asyncio.ensure_future(connecting.connect())
        await asyncio.sleep(0.05)
        before = await active(emu.base_url)
        await client.aclose()  # ends both: the open one and the one still connecting
        with contextlib.suppress(SessionError):
            await pending
        return before, await active(emu.base_url), open_one.state, connecting.state

    before, after, state, connecting = sdk.run(scenario(), 50)
    assert len(before) >= 1 and after == []
    assert state == "closed" and connecting == "closed"


@pytest.mark.timeout(60)
def test_stop_before_the_room_connected(sdk: Sdk, emu: Emu) -> None:
    """Cancelled while /start is in flight (the service takes its time), and a room that
    refuses the client: either way the session is stopped, nothing stays active."""

    async def scenario() -> tuple[list[str], list[str], str]:
        async with LiveAvatarClient(api_key=KEY, base_url=emu.base_url) as client:
            emu.call(emu.faults.delay, "liveavatar_start", 0.5, times=1)
            task = asyncio.ensure_future(use(client, "full"))
            await asyncio.sleep(0.2)  # /token answered, /start in flight
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await asyncio.sleep(0.6)  # the delayed /start has been answered by now
            during_start = await active(emu.base_url)
            emu.call(emu.faults.refuse_room_joins, None, 503)
            try:
                with pytest.raises(SessionError) as refused:
                    async with session(client, connect_timeout=10):
                        pass
            finally:
                emu.call(emu.faults.allow_room_joins, None)
            return during_start, await active(emu.base_url), str(refused.value)

    during_start, after_refusal, message = sdk.run(scenario(), 50)
    assert during_start == [] and after_refusal == []
    assert "room" in message


@pytest.mark.timeout(60)
def test_an_unconfirmed_stop_names_the_command(sdk: Sdk, emu: Emu) -> None:
    async def scenario() -> tuple[str, str, str, list[str], list[str]]:
        async with LiveAvatarClient(api_key=KEY, base_url=emu.base_url) as client:
            s = session(client, stop_timeout=1.0)
            await s.connect()
            emu.call(emu.faults.fail, "liveavatar_stop", 503, times=100)
            try:
                with pytest.raises(SessionNotStopped) as failed:
                    await s.aclose()
                # the same through an exception leaving the block: attached as a note
                s2 = session(client, stop_timeout=1.0)
                with pytest.raises(KeyError) as raised:
                    async with s2:
                        raise KeyError("boom")
            finally:
                emu.call(emu.faults.clear)
            still = await active(emu.base_url)
            await client.stop_session(s.session_id)
            await client.stop_session(s2.session_id)
            notes = "\n".join(getattr(raised.value, "__notes__", []))
            return failed.value.command, s.session_id, notes, still, await active(emu.base_url)

    command, sid, notes, still, after = sdk.run(scenario(), 50)
    assert command == f"heygen-streaming live sessions stop {sid}"
    assert "heygen-streaming live sessions stop" in notes
    assert sid in still and after == []


@pytest.mark.timeout(60)
def test_a_session_ending_itself_is_not_closed_twice(sdk: Sdk, emu: Emu) -> None:
    """The service ends it (stopped from elsewhere): the block's exit still cleans up and
    nothing raises from the stop (already stopped counts as stopped)."""

    async def scenario() -> tuple[object, object]:
        async with LiveAvatarClient(api_key=KEY, base_url=emu.base_url) as client:
            async with session(client) as s:
                await client.stop_session(s.session_id)
                await s._core.life.wait_for(lambda: s._core.life.ended)
            return s.end_reason, s.stop_error

    reason, error = sdk.run(scenario(), 50)
    assert reason is LiveAvatarEndReason.USER_CLOSED and error is None
