"""Fault injection for reliability tests: failing or slow endpoints, frozen or dropped media,
LiveAvatar rooms and LITE sockets.

Endpoint names: v1's are the part after ``streaming.`` (``"new"``, ``"task"``, ...), v3's
``"realtime_*"`` and LiveAvatar's ``"liveavatar_*"`` (docs/testing.md has the table);
``"*"`` matches every endpoint. On an emulator's `Faults` an unknown name raises
``ValueError`` listing the valid ones. Faults are consumed in the order they were added.

Kinds of failure (`Faults.fail`):

``"error"``
    the given HTTP status with an error envelope (``Retry-After`` when given);
``"garbage"``
    the given status with a non-JSON body;
``"bad_envelope"``
    HTTP 200 with JSON that is not a valid envelope for the endpoint;
``"error_code"``
    HTTP 200 whose envelope carries a non-100 ``code``;
``"disconnect"``
    the connection is closed without an answer (no status needed).

Without a ``status``, ``"error"`` and ``"garbage"`` answer 500, ``"bad_envelope"`` and
``"error_code"`` 200.

With ``after=True`` the request is handled first (its side effects happen: a session is
created, a task is queued) and only the answer is replaced.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

__all__ = ["DelayRule", "FailRule", "FaultKind", "Faults", "parse_fault_spec"]

FaultKind = Literal["error", "garbage", "bad_envelope", "error_code", "disconnect"]
_KINDS = ("error", "garbage", "bad_envelope", "error_code", "disconnect")


_DEFAULT_STATUS = {"error": 500, "garbage": 500, "bad_envelope": 200, "error_code": 200}


def _norm(endpoint: str) -> str:
    return endpoint.removeprefix("/v1/").removeprefix("streaming.")


class RoomFaults(Protocol):
    """What the LiveAvatar side offers `Faults` (its rooms and LITE sockets)."""

    def drop_media(self, session_id: str | None, seconds: float) -> int: ...

    async def close_rooms(self, session_id: str | None, reason: str) -> int: ...

    def refuse_joins(self, session_id: str | None, status: int | None) -> None: ...

    async def drop_sockets(self, session_id: str | None) -> int: ...


@dataclass
class FailRule:
    """One pending failure."""

    endpoint: str
    status: int
    kind: FaultKind
    times: int
    retry_after: float | None = None
    after: bool = False


@dataclass
class DelayRule:
    """A delay applied before handling matching requests (``times=None``: forever)."""

    endpoint: str
    seconds: float
    times: int | None = None


@dataclass
class Faults:
    """Switches read by the emulator on every request and by the media tracks."""

    fail_rules: list[FailRule] = field(default_factory=list)
    delay_rules: list[DelayRule] = field(default_factory=list)
    endpoints: frozenset[str] | None = None
    """The valid endpoint names (set by the emulator); ``None`` accepts any name."""
    _freeze: Callable[[str | None, bool], int] | None = field(default=None, repr=False)
    _drop: Callable[[], Awaitable[int]] | None = field(default=None, repr=False)
    _rooms: RoomFaults | None = field(default=None, repr=False)

    def _check(self, endpoint: str) -> str:
        name = _norm(endpoint)
        if self.endpoints is not None and name != "*" and name not in self.endpoints:
            valid = ", ".join(sorted(self.endpoints))
            raise ValueError(f"unknown endpoint {endpoint!r}; valid names: *, {valid}")
        return name

    def fail(
        self,
        endpoint: str,
        status: int | None = None,
        *,
        times: int = 1,
        kind: FaultKind = "error",
        retry_after: float | None = None,
        after: bool = False,
    ) -> None:
        """Make the next ``times`` calls of ``endpoint`` fail (see the module docs)."""
        if kind not in _KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; kinds: {', '.join(_KINDS)}")
        name = self._check(endpoint)
        code = status if status is not None else _DEFAULT_STATUS.get(kind, 500)
        self.fail_rules.append(
            FailRule(name, code, kind, times, retry_after=retry_after, after=after)
        )

    def delay(self, endpoint: str, seconds: float, *, times: int | None = None) -> None:
        """Delay the next ``times`` calls (all when ``None``) of ``endpoint`` by ``seconds``."""
        self.delay_rules.append(DelayRule(self._check(endpoint), seconds, times))

    def clear(self) -> None:
        """Remove every pending failure and delay, unfreeze media, allow room joins."""
        self.fail_rules.clear()
        self.delay_rules.clear()
        self.unfreeze_media()
        if self._rooms is not None:
            self._rooms.refuse_joins(None, None)

    # -- LiveAvatar rooms and LITE sockets ------------------------------------------------------
    def drop_room_media(self, session_id: str | None = None, seconds: float = 5.0) -> int:
        """Stop the avatar's media in a LiveAvatar session's room (all when ``None``) for
        ``seconds``; the peer connections stay up. Returns how many rooms."""
        return self._rooms.drop_media(session_id, seconds) if self._rooms else 0

    async def close_room(
        self, session_id: str | None = None, reason: str = "SERVER_SHUTDOWN"
    ) -> int:
        """Server-initiated leave: close a LiveAvatar session's room (all when ``None``);
        each viewer gets ``leave`` with ``reason`` (a LiveKit ``DisconnectReason`` name)."""
        return await self._rooms.close_rooms(session_id, reason) if self._rooms else 0

    def refuse_room_joins(self, session_id: str | None = None, status: int = 503) -> None:
        """Refuse joins to a LiveAvatar session's room (every room when ``None``) with HTTP
        ``status`` until `allow_room_joins` (or `clear`)."""
        if self._rooms is not None:
            self._rooms.refuse_joins(session_id, status)

    def allow_room_joins(self, session_id: str | None = None) -> None:
        """Undo `refuse_room_joins` for ``session_id`` (``None``: every refusal)."""
        if self._rooms is not None:
            self._rooms.refuse_joins(session_id, None)

    async def drop_lite_socket(self, session_id: str | None = None) -> int:
        """Close LITE control sockets abruptly (no close frame); the session lives on."""
        return await self._rooms.drop_sockets(session_id) if self._rooms else 0

    def freeze_media(self, session_id: str | None = None) -> int:
        """Stop sending RTP for one session (or all) without closing: a vanished peer.

        Returns the number of sessions frozen.
        """
        return self._freeze(session_id, True) if self._freeze else 0

    def unfreeze_media(self, session_id: str | None = None) -> int:
        """Resume media for one session (or all)."""
        return self._freeze(session_id, False) if self._freeze else 0

    async def drop_all(self) -> int:
        """Close every peer abruptly (no DTLS close alert) and forget every session."""
        return await self._drop() if self._drop else 0

    # -- used by the app -------------------------------------------------------------
    def take_failure(self, endpoint: str) -> FailRule | None:
        """Consume and return the first failure matching ``endpoint``."""
        name = _norm(endpoint)
        for rule in self.fail_rules:
            if rule.endpoint in (name, "*"):
                rule.times -= 1
                if rule.times <= 0:
                    self.fail_rules.remove(rule)
                return rule
        return None

    def take_delay(self, endpoint: str) -> float:
        """Consume and return the delay (seconds) for ``endpoint``, 0 when none."""
        name = _norm(endpoint)
        for rule in self.delay_rules:
            if rule.endpoint in (name, "*"):
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self.delay_rules.remove(rule)
                return rule.seconds
        return 0.0


_SPEC = re.compile(
    r"^(?P<ep>[\w*]+)=(?:(?P<delay>delay):(?P<secs>[\d.]+)|(?P<what>\d{3}|[a-z_]+))"
    r"(?:x(?P<times>\d+))?$"
)


def parse_fault_spec(spec: str, faults: Faults) -> None:
    """Apply a CLI ``--fault`` spec: ``new=500x1``, ``task=garbage``, ``*=delay:2x3``,
    ``start=503``, ``new=disconnect``, ``list=bad_envelope``, ``stop=error_code``."""
    match = _SPEC.match(spec.strip())
    if not match:
        raise ValueError(f"bad fault spec {spec!r}")
    times = int(match["times"]) if match["times"] else None
    endpoint = match["ep"]
    if match["delay"]:
        faults.delay(endpoint, float(match["secs"]), times=times)
        return
    what = match["what"]
    if what.isdigit():
        status = int(what)
        faults.fail(
            endpoint,
            status,
            times=times or 1,
            retry_after=1.0 if status == 429 else None,
        )
    elif what in _KINDS:
        faults.fail(endpoint, times=times or 1, kind=what)  # type: ignore[arg-type]
    else:
        raise ValueError(f"bad fault spec {spec!r}")
