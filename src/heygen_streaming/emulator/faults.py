"""Fault injection for reliability tests: failing or slow endpoints, frozen or dropped media.

Endpoint names are the part after ``streaming.`` (``"new"``, ``"task"``, ...); ``"*"``
matches every endpoint. Faults are consumed in the order they were added.

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
    the connection is closed without an answer.

With ``after=True`` the request is handled first (its side effects happen: a session is
created, a task is queued) and only the answer is replaced.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["DelayRule", "FailRule", "FaultKind", "Faults", "parse_fault_spec"]

FaultKind = Literal["error", "garbage", "bad_envelope", "error_code", "disconnect"]
_KINDS = ("error", "garbage", "bad_envelope", "error_code", "disconnect")


def _norm(endpoint: str) -> str:
    return endpoint.removeprefix("/v1/").removeprefix("streaming.")


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
    _freeze: Callable[[str | None, bool], int] | None = field(default=None, repr=False)
    _drop: Callable[[], Awaitable[int]] | None = field(default=None, repr=False)

    def fail(
        self,
        endpoint: str,
        status: int = 500,
        *,
        times: int = 1,
        kind: FaultKind = "error",
        retry_after: float | None = None,
        after: bool = False,
    ) -> None:
        """Make the next ``times`` calls of ``endpoint`` fail (see the module docs)."""
        if kind not in _KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        self.fail_rules.append(
            FailRule(_norm(endpoint), status, kind, times, retry_after=retry_after, after=after)
        )

    def delay(self, endpoint: str, seconds: float, *, times: int | None = None) -> None:
        """Delay the next ``times`` calls (all when ``None``) of ``endpoint`` by ``seconds``."""
        self.delay_rules.append(DelayRule(_norm(endpoint), seconds, times))

    def clear(self) -> None:
        """Remove every pending failure and delay and unfreeze media."""
        self.fail_rules.clear()
        self.delay_rules.clear()
        self.unfreeze_media()

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
        status = 500 if what == "garbage" else 200
        faults.fail(endpoint, status, times=times or 1, kind=what)  # type: ignore[arg-type]
    else:
        raise ValueError(f"bad fault spec {spec!r}")
