"""Session registry of the emulator: ownership, limits, idle and duration timeouts, tokens."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .avatar import AvatarState
from .avatar.speech import Utterance

if TYPE_CHECKING:
    from .v1.peer import EmulatorPeer

__all__ = [
    "EmulatedSession",
    "SessionLimitReached",
    "SessionRegistry",
    "TokenStore",
    "UnknownSession",
    "watch_deadline",
]


class UnknownSession(LookupError):
    """No live session with this id for this owner; ``closed_reason`` is set when the
    owner's session existed and was closed (each API version words its own answer)."""

    def __init__(self, closed_reason: str | None = None) -> None:
        super().__init__("session not found" if closed_reason is None else "session closed")
        self.closed_reason = closed_reason


class SessionLimitReached(Exception):
    """The owner (or the whole emulator) has no free session slot."""


@dataclass(eq=False)
class EmulatedSession:
    """One streaming session."""

    session_id: str
    owner: str = field(repr=False)
    quality: str
    avatar: str
    state: AvatarState = field(repr=False)
    peer: EmulatorPeer | None = field(repr=False)
    idle_timeout: float | None
    duration_limit: float
    created_at: float = field(default_factory=time.time)
    started: bool = False
    closed: bool = False
    close_reason: str = ""
    last_activity: float = field(default_factory=time.monotonic)
    tasks: int = 0
    max_queued: int = 32
    _created_mono: float = field(default_factory=time.monotonic, repr=False)
    _wake: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _watcher: asyncio.Task[None] | None = field(default=None, repr=False)
    _preparing: set[asyncio.Task[None]] = field(default_factory=set, repr=False)
    _unfinished: set[str] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        if self.peer is not None:
            self.state.speech.listener = self._talking

    def _talking(self, kind: str, utterance: Utterance, interrupted: bool) -> None:
        """Send ``avatar_start_talking`` / ``avatar_stop_talking`` on the data channel.

        Exactly the fields of HeyGen's v1 events (``tests/wire/fixtures/v1/DATACHANNEL.md``):
        ``{"type", "task_id"}``, and for the stop ``duration_ms``, the milliseconds
        actually played (less than the task's when an interrupt cut the speech).
        """
        if kind != "start":
            self._unfinished.discard(utterance.task_id)
        if self.peer is None:
            return
        message: dict[str, object] = {
            "type": "avatar_start_talking" if kind == "start" else "avatar_stop_talking",
            "task_id": utterance.task_id,
        }
        if kind != "start":
            message["duration_ms"] = round(utterance.played_ms)
        self.peer.send_message(message)

    @property
    def status(self) -> str:
        """``new`` (offered), ``connecting``, ``connected`` or ``closed``."""
        if self.closed:
            return "closed"
        if not self.started:
            return "new"
        if self.peer is not None and self.peer.connection_state == "connected":
            return "connected"
        return "connecting"

    def touch(self) -> None:
        """Record activity: resets the idle timer."""
        self.last_activity = time.monotonic()
        self._wake.set()

    def deadline(self) -> tuple[float, str]:
        """Monotonic time at which the session ends by itself, and why."""
        end = self._created_mono + self.duration_limit
        reason = "duration limit"
        if self.idle_timeout is not None and self.last_activity + self.idle_timeout < end:
            end, reason = self.last_activity + self.idle_timeout, "idle timeout"
        return end, reason

    @property
    def queued_tasks(self) -> int:
        """Tasks accepted and not yet finished (being prepared, queued or playing)."""
        return len(self._unfinished)

    def prepare_speech(self, utterance: Utterance, latency: float) -> asyncio.Task[None]:
        """Queue ``utterance`` once its first audio is rendered and at least ``latency``
        seconds (a simulated text-to-speech time) passed."""
        self._unfinished.add(utterance.task_id)

        async def queue() -> None:
            try:
                await asyncio.gather(utterance.wait_ready(), asyncio.sleep(max(0.0, latency)))
            except asyncio.CancelledError:
                utterance.cancel()
                raise
            self.state.speech.push(utterance)

        task = asyncio.create_task(queue())
        self._preparing.add(task)
        task.add_done_callback(self._preparing.discard)
        return task

    def interrupt(self) -> None:
        """Cut current, queued and still-preparing speech at once."""
        for task in list(self._preparing):
            task.cancel()
        self.state.speech.interrupt()
        self._unfinished.clear()

    async def wait_closed(self) -> str:
        """Wait until the session is closed; returns the reason."""
        await self._done.wait()
        return self.close_reason


class TokenStore:
    """Short-lived bearer tokens minted by ``streaming.create_token``.

    A token acts for the key that minted it for ``ttl`` seconds, and may open one session
    (a second ``streaming.new`` with it is refused); it cannot mint tokens.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._tokens: dict[str, tuple[str, float]] = {}
        self._used_for_new: set[str] = set()

    def mint(self, owner: str) -> str:
        """A new token for ``owner``."""
        self._purge()
        token = secrets.token_urlsafe(32)
        self._tokens[token] = (owner, time.monotonic() + self.ttl)
        return token

    def owner(self, token: str) -> str | None:
        """The owner of a live token, or None."""
        entry = self._tokens.get(token)
        if entry is None or entry[1] <= time.monotonic():
            return None
        return entry[0]

    def use_for_new(self, token: str) -> bool:
        """Mark the token as having opened its session; False if it already had."""
        if token in self._used_for_new:
            return False
        self._used_for_new.add(token)
        return True

    def _purge(self) -> None:
        now = time.monotonic()
        for token in [t for t, (_, exp) in self._tokens.items() if exp < now]:
            del self._tokens[token]
            self._used_for_new.discard(token)


class SessionRegistry:
    """Live sessions by id, per-owner limits, and tombstones of closed sessions."""

    def __init__(
        self,
        *,
        max_sessions: int,
        max_total: int,
        idle_timeout: float | None,
        duration_limit: float,
    ) -> None:
        self.max_sessions = max_sessions
        self.max_total = max_total
        self.idle_timeout = idle_timeout
        self.duration_limit = duration_limit
        self.sessions: dict[str, EmulatedSession] = {}
        self._closed: collections.OrderedDict[str, tuple[str, str]] = collections.OrderedDict()
        self._creating: collections.Counter[str] = collections.Counter()

    def count_for(self, owner: str) -> int:
        """Live sessions of ``owner``, plus those being created."""
        live = sum(1 for s in self.sessions.values() if s.owner == owner)
        return live + self._creating[owner]

    @contextlib.contextmanager
    def reserve(self, owner: str) -> Iterator[None]:
        """Hold one of ``owner``'s session slots while a session is being created.

        Raises `SessionLimitReached` if ``owner`` has no free slot, or the emulator has
        ``max_total`` sessions (all keys: in any-key mode each key is its own account).
        """
        if self.count_for(owner) >= self.max_sessions:
            raise SessionLimitReached(f"at most {self.max_sessions} sessions per key")
        if len(self.sessions) + self._creating.total() >= self.max_total:
            raise SessionLimitReached(f"at most {self.max_total} sessions in all")
        self._creating[owner] += 1
        try:
            yield
        finally:
            self._creating[owner] -= 1
            if not self._creating[owner]:
                del self._creating[owner]

    def add(
        self,
        *,
        owner: str,
        quality: str,
        avatar: str,
        state: AvatarState,
        peer: EmulatorPeer | None,
        idle_timeout: float | None,
        max_queued: int = 32,
    ) -> EmulatedSession:
        """Register a new session and start its timeout watcher."""
        session = EmulatedSession(
            session_id=str(uuid.uuid4()),
            owner=owner,
            quality=quality,
            avatar=avatar,
            state=state,
            peer=peer,
            idle_timeout=idle_timeout,
            duration_limit=self.duration_limit,
            max_queued=max_queued,
        )
        self.sessions[session.session_id] = session
        session._watcher = asyncio.create_task(self._watch(session))
        return session

    def get(self, session_id: str, owner: str) -> EmulatedSession:
        """The live session ``session_id`` of ``owner``, else `UnknownSession`."""
        session = self.sessions.get(session_id)
        if session is not None and session.owner == owner:
            return session
        tomb = self._closed.get(session_id)
        if tomb is not None and tomb[0] == owner:
            raise UnknownSession(tomb[1])
        raise UnknownSession()

    def list_for(self, owner: str) -> list[EmulatedSession]:
        """Live sessions of ``owner``, oldest first."""
        return [s for s in self.sessions.values() if s.owner == owner]

    async def close(self, session: EmulatedSession, reason: str, *, abrupt: bool = False) -> None:
        """Close a session and its peer (idempotent)."""
        if session.closed:
            await session._done.wait()
            return
        session.closed = True
        session.close_reason = reason
        self.sessions.pop(session.session_id, None)
        self._closed[session.session_id] = (session.owner, reason)
        while len(self._closed) > 10_000:
            self._closed.popitem(last=False)
        session.interrupt()
        try:
            if session.peer is not None:
                await session.peer.close(abrupt=abrupt)
        finally:
            session._done.set()
            watcher = session._watcher
            if watcher is not None and watcher is not asyncio.current_task():
                watcher.cancel()

    async def close_all(self, reason: str, *, abrupt: bool = False) -> int:
        """Close every session concurrently; returns how many were closed."""
        sessions = list(self.sessions.values())
        await asyncio.gather(*(self.close(s, reason, abrupt=abrupt) for s in sessions))
        return len(sessions)

    async def _watch(self, session: EmulatedSession) -> None:
        await watch_deadline(
            lambda: None if session.closed else session.deadline(),
            session._wake,
            lambda reason: self.close(session, reason),
        )


async def watch_deadline(
    deadline: Callable[[], tuple[float, str] | None],
    wake: asyncio.Event,
    expire: Callable[[str], Awaitable[None]],
) -> None:
    """Wait for ``deadline()`` (a monotonic time and a reason; None: stop watching), again
    each time ``wake`` is set (the deadline moved); when it has passed, ``expire(reason)``."""
    while (due := deadline()) is not None:
        remaining = due[0] - time.monotonic()
        if remaining <= 0:
            await expire(due[1])
            return
        wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), remaining)
