"""LiveAvatar sessions: lifecycle (created -> started -> connected -> closed), limits,
timeouts, stop reasons, history and credits.

A session is *created* by ``/v1/sessions/token`` (no slot held; it expires with its token
unless started), *started* by ``/v1/sessions/start`` (holds one of its key's concurrency
slots; its room and avatar run), *connected* once a viewer joined its room, and *closed* by
a stop (any time, also before the room is connected: the slot is freed at once) or a
limit: idle timeout, ``max_session_duration`` (a sandbox session: about a minute), the
viewer gone for longer than the grace period. Closed sessions stay listed as ``historic``.

Credits (published): FULL 2 and LITE 1 credit a minute, one minute held up front, then per
started minute; sandbox sessions are free.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from ..sessions import watch_deadline
from .catalog import Avatar
from .options import LiveAvatarOptions
from .wire import TokenRequest

__all__ = [
    "STOP_REASONS",
    "ConcurrencyLimitReached",
    "LaRegistry",
    "LaSession",
    "Status",
    "TooManyUnstarted",
    "TranscriptEntry",
]

logger = logging.getLogger("heygen_streaming.emulator")

STOP_REASONS = (
    "UNKNOWN",
    "USER_DISCONNECTED",
    "SERVER_ERROR",
    "IDLE_TIMEOUT",
    "NO_CREDITS",
    "USER_CLOSED",
    "AVATAR_DELETED",
    "MAX_DURATION_REACHED",
    "ZOMBIE_SESSION_REAP",
    "AGENT_HANG_UP",
)
"""The published stop reasons (the OpenAPI schema's enum)."""

CREDITS_PER_MINUTE = {"FULL": 2.0, "LITE": 1.0}
MAX_HISTORY = 10_000
MAX_UNSTARTED = 100
"""Created (token minted) but not started sessions a key may hold; more answer 429."""
MAX_TRANSCRIPT = 2_000
Status = Literal["created", "started", "connected", "closed"]
CloseHook = Callable[["LaSession", str], Awaitable[None]]


class ConcurrencyLimitReached(Exception):
    """The key (or the emulator) has no free session slot."""


class TooManyUnstarted(Exception):
    """The key holds `MAX_UNSTARTED` session tokens it never started."""


def iso(timestamp: float | None) -> str | None:
    """``2026-01-01T00:00:00Z`` for a Unix time."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class TranscriptEntry:
    """One line of a session's transcript."""

    role: Literal["user", "avatar"]
    text: str
    at: float

    def body(self, started: float) -> dict[str, Any]:
        """The entry as ``/transcript`` lists it."""
        return {
            "role": self.role,
            "transcript": self.text,
            "absolute_timestamp": int(self.at),
            "relative_timestamp": max(0, int(self.at - started)),
        }


@dataclass(eq=False)
class LaSession:
    """One LiveAvatar session (see the module docstring)."""

    session_id: str
    owner: str = field(repr=False)
    request: TokenRequest = field(repr=False)
    avatar: Avatar
    max_duration: float
    idle_timeout: float | None
    token_deadline: float = field(repr=False)
    status: Status = "created"
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    connected_at: float | None = None
    ended_at: float | None = None
    stop_reason: str | None = None
    transcript: list[TranscriptEntry] = field(default_factory=list, repr=False)
    on_close: list[CloseHook] = field(default_factory=list, repr=False)
    _started_mono: float = field(default=0.0, repr=False)
    _activity: float = field(default_factory=time.monotonic, repr=False)
    _viewer_gone: float | None = field(default=None, repr=False)
    _wake: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _watcher: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def mode(self) -> Literal["FULL", "LITE"]:
        """``FULL`` or ``LITE``."""
        return self.request.session_mode

    @property
    def is_sandbox(self) -> bool:
        """A free sandbox session (ends after about a minute)."""
        return self.request.is_sandbox

    @property
    def live(self) -> bool:
        """Started and not yet closed (holds a concurrency slot)."""
        return self.status in ("started", "connected")

    def touch(self) -> None:
        """Activity: resets the idle timer."""
        self._activity = time.monotonic()
        self._wake.set()

    def viewer_present(self, present: bool) -> None:
        """A viewer joined (``True``) or the last one left the room (``False``)."""
        if present:
            self._viewer_gone = None
            if self.status == "started":
                self.status = "connected"
                self.connected_at = time.time()
        elif self.status == "connected":
            self._viewer_gone = time.monotonic()
        self._wake.set()

    def say(self, role: Literal["user", "avatar"], text: str) -> None:
        """Add a transcript line (the newest `MAX_TRANSCRIPT` are kept)."""
        self.transcript.append(TranscriptEntry(role, text, time.time()))
        del self.transcript[:-MAX_TRANSCRIPT]

    @property
    def duration(self) -> float:
        """Seconds since start (to the end once closed); 0 if never started."""
        if self.started_at is None:
            return 0.0
        return max(0.0, (self.ended_at or time.time()) - self.started_at)

    @property
    def credits_consumed(self) -> float:
        """Credits billed so far (see the module docstring)."""
        if self.started_at is None or self.is_sandbox:
            return 0.0
        minutes = max(1, math.ceil(self.duration / 60.0 - 1e-9))
        return CREDITS_PER_MINUTE[self.mode] * minutes

    def deadline(self, grace: float) -> tuple[float, str]:
        """Monotonic time at which the session ends by itself, and the stop reason."""
        if self.status == "created":
            return self.token_deadline, "ZOMBIE_SESSION_REAP"
        end, reason = self._started_mono + self.max_duration, "MAX_DURATION_REACHED"
        if self.idle_timeout is not None and self._activity + self.idle_timeout < end:
            end, reason = self._activity + self.idle_timeout, "IDLE_TIMEOUT"
        if self._viewer_gone is not None and self._viewer_gone + grace < end:
            end, reason = self._viewer_gone + grace, "USER_DISCONNECTED"
        return end, reason

    def entry(self) -> dict[str, Any]:
        """The session as ``GET /v1/sessions`` lists it."""
        return {
            "id": self.session_id,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.ended_at or self.started_at or self.created_at),
            "duration": round(self.duration),
            "source": "API",
            "mode": self.mode,
            "is_sandbox": self.is_sandbox,
            "credits_consumed": self.credits_consumed,
            "avatar_id": self.avatar.id,
            "status": self.status.upper(),
            "stop_reason": self.stop_reason,
        }

    async def wait_closed(self) -> str:
        """Wait until closed; returns the stop reason."""
        await self._done.wait()
        return self.stop_reason or "UNKNOWN"


class LaRegistry:
    """Every LiveAvatar session by id: limits, timeouts, history, credits."""

    def __init__(self, options: LiveAvatarOptions, *, max_sessions: int, max_total: int) -> None:
        self.options = options
        self.max_sessions = options.max_sessions or max_sessions
        self.max_total = options.max_total_sessions or max_total
        self.sessions: dict[str, LaSession] = {}
        self.history: collections.OrderedDict[str, LaSession] = collections.OrderedDict()

    def create(
        self, *, owner: str, request: TokenRequest, avatar: Avatar, token_ttl: float
    ) -> LaSession:
        """A new session in state ``created`` (expires after ``token_ttl`` unless started);
        `TooManyUnstarted` when ``owner`` holds `MAX_UNSTARTED` of them."""
        waiting = sum(1 for s in self.sessions.values() if s.owner == owner and not s.live)
        if waiting >= MAX_UNSTARTED:
            raise TooManyUnstarted(f"more than {MAX_UNSTARTED} session tokens not started")
        options = self.options
        duration = min(request.max_session_duration or math.inf, options.max_session_duration)
        if request.is_sandbox:
            duration = min(duration, options.sandbox_duration)
        session = LaSession(
            session_id=str(uuid.uuid4()),
            owner=owner,
            request=request,
            avatar=avatar,
            max_duration=float(duration),
            idle_timeout=options.idle_timeout,
            token_deadline=time.monotonic() + token_ttl,
        )
        self.sessions[session.session_id] = session
        session._watcher = asyncio.create_task(self._watch(session))
        return session

    def find(self, session_id: str) -> LaSession | None:
        """A session (live or historic) by id."""
        return self.sessions.get(session_id) or self.history.get(session_id)

    def live_count(self, owner: str | None = None) -> int:
        """Started sessions of ``owner`` (all owners when None)."""
        return sum(
            1 for s in self.sessions.values() if s.live and (owner is None or s.owner == owner)
        )

    def start(self, session: LaSession) -> None:
        """Take a slot and mark ``session`` started; `ConcurrencyLimitReached` if none."""
        if self.live_count(session.owner) >= self.max_sessions:
            raise ConcurrencyLimitReached("Session concurrency limit reached")
        if self.live_count() >= self.max_total:
            raise ConcurrencyLimitReached("Session concurrency limit reached")
        session.status = "started"
        session.started_at = time.time()
        session._started_mono = time.monotonic()
        session.touch()

    def listed(self, owner: str, kind: Literal["active", "historic"]) -> list[LaSession]:
        """``owner``'s started sessions (active) or closed ones (historic), newest first."""
        if kind == "active":
            found = [s for s in self.sessions.values() if s.owner == owner and s.live]
        else:
            found = [s for s in self.history.values() if s.owner == owner]
        return sorted(found, key=lambda s: s.created_at, reverse=True)

    def credits_used(self, owner: str) -> float:
        """Credits ``owner``'s sessions consumed (live ones so far)."""
        every = [*self.sessions.values(), *self.history.values()]
        return sum(s.credits_consumed for s in every if s.owner == owner)

    async def close(self, session: LaSession, reason: str) -> None:
        """End ``session`` with ``reason`` (idempotent); runs its close hooks."""
        if session.status == "closed":
            await session._done.wait()
            return
        was_started = session.started_at is not None
        session.status = "closed"
        session.stop_reason = reason
        session.ended_at = time.time()
        self.sessions.pop(session.session_id, None)
        if was_started or reason == "USER_CLOSED":
            self.history[session.session_id] = session
            while len(self.history) > MAX_HISTORY:
                self.history.popitem(last=False)
        try:
            for hook in session.on_close:
                try:
                    await hook(session, reason)
                except Exception:
                    logger.exception("closing LiveAvatar session media failed")
        finally:
            session._done.set()
            watcher = session._watcher
            if watcher is not None and watcher is not asyncio.current_task():
                watcher.cancel()

    async def close_all(self, reason: str) -> int:
        """Close every session; returns how many."""
        sessions = list(self.sessions.values())
        await asyncio.gather(*(self.close(s, reason) for s in sessions))
        return len(sessions)

    async def _watch(self, session: LaSession) -> None:
        grace = self.options.disconnect_grace
        await watch_deadline(
            lambda: None if session.status == "closed" else session.deadline(grace),
            session._wake,
            lambda reason: self.close(session, reason),
        )
