"""Waiting for speech: ``speak(wait=True)`` returns when the avatar finished that speech.

Each command's ``event_id`` is the speech's id; the service's ``speak_started`` /
``speak_ended`` name it (FULL: ``source_event_id``, LITE: ``event_id``). An end that names
no id ends the oldest speech that started (a service that leaves the id out still ends
waits in order). An interrupt ends every wait; so does the session's end, which makes the
waiter raise `SessionClosed`.
"""

from __future__ import annotations

import asyncio
import collections

from .._errors import SessionClosed

__all__ = ["Outcome", "SpeechTracker"]

Outcome = str
"""How a speech ended: ``"ended"`` or ``"interrupted"``."""
MAX_TRACKED = 1024


class SpeechTracker:
    """The speeches a session was asked for and how each ended."""

    def __init__(self) -> None:
        self._pending: collections.OrderedDict[str, asyncio.Future[Outcome]] = (
            collections.OrderedDict()
        )
        self._started: set[str] = set()
        self._closed: SessionClosed | None = None

    def begin(self, speech_id: str) -> None:
        """A command asked for ``speech_id``."""
        if self._closed is not None:
            return
        self._pending[speech_id] = asyncio.get_running_loop().create_future()
        while len(self._pending) > MAX_TRACKED:
            _, oldest = self._pending.popitem(last=False)
            if not oldest.done():
                oldest.set_result("ended")

    def started(self, speech_id: str | None) -> None:
        """The service began speaking ``speech_id``."""
        if speech_id is not None and speech_id in self._pending:
            self._started.add(speech_id)

    def ended(self, speech_id: str | None, outcome: Outcome = "ended") -> None:
        """The service finished (or cut) ``speech_id``; None: the oldest started one."""
        if speech_id is None:
            speech_id = next((s for s in self._pending if s in self._started), None)
            if speech_id is None:
                return
        future = self._pending.pop(speech_id, None)
        self._started.discard(speech_id)
        if future is not None and not future.done():
            future.set_result(outcome)

    def interrupted(self) -> None:
        """An interrupt cut every speech, playing or queued."""
        for speech_id in list(self._pending):
            self.ended(speech_id, "interrupted")

    def close(self, error: SessionClosed) -> None:
        """The session ended: every waiter raises ``error``."""
        self._closed = error
        pending, self._pending = self._pending, collections.OrderedDict()
        for future in pending.values():
            if not future.done():
                future.set_exception(error)
                future.exception()  # retrieved: a waiter may be gone

    async def wait(self, speech_id: str) -> Outcome:
        """Return how ``speech_id`` ended (at once if it already did)."""
        future = self._pending.get(speech_id)
        if future is None:
            if self._closed is not None:
                raise self._closed
            return "ended"
        return await asyncio.shield(future)
