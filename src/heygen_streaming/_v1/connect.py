"""The connect steps of a session, from ``streaming.new`` to its first frame.

1. ``streaming.new``: never retried, so it is awaited shielded (a session the server
   created is always known, to be stopped). In a fresh process, aiortc loads while the
   service works on it (``preload``).
2. The peer applies the offer and answers; ``streaming.start`` and the candidates
   (``streaming.ice``) are posted concurrently: the first error wins, raised as is.
3. Wait for the first frame of the offer's main kind (video, else audio).

The caller bounds the whole with ``connect_timeout`` and stops it when the session ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .._errors import UnsupportedSessionError
from .._http.trace import send_then_load
from . import preload
from .hub import MediaHub
from .rtc import Peer, ice_servers_for, local_candidates, post_candidates

if TYPE_CHECKING:
    from .created import CreatedSession
    from .models import IceServer

__all__ = ["Connector"]


class Connector:
    """Runs the connect steps and keeps what they produced for cleanup.

    Attributes:
        info: what ``streaming.new`` created, once it answered.
        peer: the `Peer`, once created.
        new_task: the ``streaming.new`` call (it may outlive a connect that gave up).
    """

    def __init__(
        self,
        client: Any,
        new_args: dict[str, Any],
        *,
        hub: MediaHub,
        ice_override: Sequence[IceServer | dict[str, Any]] | None,
        gather_timeout: float | None,
        on_state: Callable[[str, str | None], None],
        on_channel: Callable[[Any], None],
    ) -> None:
        self._client = client
        self._new_args = new_args
        self._hub = hub
        self._ice_override = ice_override
        self._gather_timeout = gather_timeout
        self._on_state = on_state
        self._on_channel = on_channel
        self.info: CreatedSession | None = None
        self.peer: Peer | None = None
        self.new_task: asyncio.Task[CreatedSession] | None = None

    def created(self) -> CreatedSession | None:
        """The session ``streaming.new`` created, once known (even if ``run`` gave up)."""
        task = self.new_task
        if self.info is None and task is not None and task.done() and not task.cancelled():
            self.info = None if task.exception() else task.result()
        return self.info

    def creation_unknown(self) -> bool:
        """``streaming.new`` was started but neither answered nor failed: a session may
        exist whose id this process never read (its loop was torn down meanwhile)."""
        task = self.new_task
        if task is None or self.created() is not None:
            return False
        return not task.done() or task.cancelled()

    @property
    def states(self) -> list[str]:
        """The peer's connection states so far."""
        return list(self.peer.states) if self.peer else []

    async def run(self) -> None:
        """All the steps; raises what failed (the caller cleans up)."""
        call = self._client._create_session(**self._new_args)
        self.new_task, loading = send_then_load(call, preload.aiortc_loader())
        await loading
        info = await asyncio.shield(self.new_task)
        self.info = info
        if not info.offer:
            raise UnsupportedSessionError(
                "the service returned a session without an SDP offer (a v2/LiveKit session); "
                "this SDK drives WebRTC v1 sessions only"
            )
        peer = Peer(
            ice_servers_for(info, self._ice_override),
            gather_timeout=self._gather_timeout,
            on_track=self._hub.on_track,
            on_state=self._on_state,
            on_channel=self._on_channel,
        )
        self.peer = peer
        answer = await peer.answer(info.offer, info.offer_type)
        calls = [
            asyncio.ensure_future(self._client.start_session(info.session_id, answer)),
            asyncio.ensure_future(
                post_candidates(self._client, info.session_id, local_candidates(answer))
            ),
        ]
        try:
            await asyncio.gather(*calls)
        finally:
            for call in calls:
                call.cancel()
            await asyncio.gather(*calls, return_exceptions=True)
        await self._first_media("video" if "m=video" in info.offer else "audio")

    async def _first_media(self, kind: str) -> None:
        await self._hub.first_frame(kind)
