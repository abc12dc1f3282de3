"""The aiortc peer of a session: offer -> answer, local candidates, states, watchdog.

aiortc facts this module works around (see DESIGN.md §5):

* No ``RTCConfiguration`` default: aiortc would use Google's public STUN. We pass the
  server's ``ice_servers2`` (else ``ice_servers``, else ``[]``). aioice uses only the first
  STUN and the first TURN URL, and an unreachable one costs 5 s of candidate gathering
  (aioice's own timeout; measured 5.1 s here). The session's ``ice_gather_timeout`` lowers
  that bound (host candidates are never lost: only the server-reflexive/relay ones that did
  not answer in time), ``connect_timeout`` bounds the whole connect, and
  ``ice_servers=[]`` skips servers entirely (host candidates only).
* aiortc does not trickle: ``setLocalDescription`` returns after gathering and the answer
  SDP holds every candidate. `local_candidates` extracts them so they can be posted to
  ``streaming.ice`` (concurrently with ``streaming.start``), ending with an empty candidate.
* ICE failure takes ~63 s and a vanished peer ~29 s to surface in aiortc: the session
  enforces its own connect deadline and a no-media `Watchdog`.
* Each received track runs a decoder thread; `Peer.close` is always bounded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from ._errors import ConnectionFailed
from ._models import IceCandidate, IceServer, NewSessionInfo, SessionDescription

__all__ = ["Peer", "Watchdog", "ice_servers_for", "local_candidates", "post_candidates"]

logger = logging.getLogger("heygen_streaming")

PEER_CLOSE_TIMEOUT = 5.0


def ice_servers_for(
    info: NewSessionInfo, override: Sequence[IceServer | dict[str, Any]] | None = None
) -> list[Any]:
    """``RTCIceServer`` list for a session: ``override``, else ice_servers2, ice_servers, []."""
    from aiortc import RTCIceServer

    servers: Sequence[IceServer | dict[str, Any]]
    if override is not None:
        servers = override
    elif info.ice_servers2:
        servers = info.ice_servers2
    elif info.ice_servers:
        servers = info.ice_servers
    else:
        servers = []
    result = []
    for server in servers:
        model = server if isinstance(server, IceServer) else IceServer.model_validate(server)
        urls = model.urls if isinstance(model.urls, str) else list(model.urls)
        if not urls:
            continue
        result.append(RTCIceServer(urls=urls, username=model.username, credential=model.credential))
    return result


def local_candidates(sdp: str) -> list[IceCandidate]:
    """The candidates of an SDP (first BUNDLE section only), then end-of-candidates.

    With BUNDLE every section repeats the same candidates; only the first section's are
    returned (aiortc on the other side drops candidates of non-first bundle mids anyway).
    The last item is the empty end-of-candidates candidate.
    """
    sections: list[tuple[str | None, list[str]]] = []
    bundle: list[str] = []
    for raw in sdp.splitlines():
        line = raw.strip()
        if line.startswith("a=group:BUNDLE"):
            bundle = line.split()[1:]
        elif line.startswith("m="):
            sections.append((None, []))
        elif sections and line.startswith("a=mid:"):
            sections[-1] = (line[len("a=mid:") :], sections[-1][1])
        elif sections and line.startswith("a=candidate:"):
            sections[-1][1].append(line[len("a=") :])
    if not sections:
        return []
    index = 0
    if bundle:
        for i, (mid, _) in enumerate(sections):
            if mid == bundle[0]:
                index = i
                break
    mid, lines = sections[index]
    result = [IceCandidate(candidate=c, sdpMid=mid, sdpMLineIndex=index) for c in lines]
    result.append(IceCandidate(candidate="", sdpMid=mid, sdpMLineIndex=index))
    return result


async def post_candidates(client: Any, session_id: str, candidates: list[IceCandidate]) -> None:
    """Post candidates to ``streaming.ice`` concurrently, then end-of-candidates.

    The answer SDP holds the same candidates, so failures are logged, not raised.
    """
    from ._errors import HeyGenError

    *real, end = candidates or [IceCandidate()]

    async def post(candidate: IceCandidate) -> None:
        try:
            await client.submit_ice(session_id, candidate)
        except HeyGenError as exc:
            logger.warning("streaming.ice failed (candidates are in the answer too): %s", exc)

    await asyncio.gather(*(post(c) for c in real))
    await post(end)


class Peer:
    """An ``RTCPeerConnection`` that answers the server's offer and records its states.

    Callbacks: ``on_track(track)``, ``on_state(state, previous)``, ``on_channel(channel)``.
    """

    def __init__(
        self,
        ice_servers: list[Any],
        *,
        gather_timeout: float | None = None,
        on_track: Callable[[Any], None],
        on_state: Callable[[str, str | None], None],
        on_channel: Callable[[Any], None],
    ) -> None:
        from aiortc import RTCConfiguration, RTCPeerConnection

        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=ice_servers))
        self.states: list[str] = [self.pc.connectionState]
        self.bytes_received: dict[str, int] = {"video": 0, "audio": 0}
        self._closed = False
        self._close_task: asyncio.Task[None] | None = None
        self._on_state = on_state
        self._gather_timeout = gather_timeout

        @self.pc.on("track")
        def _track(track: Any) -> None:
            on_track(track)

        @self.pc.on("connectionstatechange")
        def _state() -> None:
            state = self.pc.connectionState
            previous = self.states[-1] if self.states else None
            if state != previous:
                self.states.append(state)
                self._on_state(state, previous)

        @self.pc.on("datachannel")
        def _channel(channel: Any) -> None:
            on_channel(channel)

    @property
    def state(self) -> str:
        """aiortc's ``connectionState``."""
        return str(self.pc.connectionState)

    async def answer(self, offer: SessionDescription) -> str:
        """Apply the server's offer and return our answer SDP (after candidate gathering)."""
        from aiortc import RTCSessionDescription

        try:
            await self.pc.setRemoteDescription(
                RTCSessionDescription(sdp=offer.sdp, type=offer.type or "offer")
            )
        except Exception as exc:
            raise ConnectionFailed(
                f"could not apply the server's SDP offer: {type(exc).__name__}: {exc}",
                states=self.states,
            ) from exc
        self._count_bytes()
        if self._gather_timeout is not None:
            self._limit_gathering(self._gather_timeout)
        try:
            answer = await self.pc.createAnswer()
            await self.pc.setLocalDescription(answer)
        except Exception as exc:
            raise ConnectionFailed(
                f"could not create the SDP answer: {type(exc).__name__}: {exc}",
                states=self.states,
            ) from exc
        return str(self.pc.localDescription.sdp)

    def _limit_gathering(self, seconds: float) -> None:
        """Bound aioice's STUN/TURN wait (5 s by default) through its ``timeout`` argument.

        Uses aioice's ``Connection.get_component_candidates``; if missing, nothing changes.
        """
        for transceiver in self.pc.getTransceivers():
            gatherer = getattr(transceiver.receiver.transport.transport, "iceGatherer", None)
            connection = getattr(gatherer, "_connection", None)
            original = getattr(connection, "get_component_candidates", None)
            if original is None or getattr(original, "_heygen_limited", False):
                continue

            async def limited(*args: Any, _orig: Any = original, **kwargs: Any) -> Any:
                kwargs["timeout"] = seconds
                return await _orig(*args, **kwargs)

            limited._heygen_limited = True  # type: ignore[attr-defined]
            setattr(connection, "get_component_candidates", limited)  # noqa: B010

    def _count_bytes(self) -> None:
        """Wrap each receiver's packet handler to count RTP payload bytes per kind.

        Uses a private aiortc hook; if it is missing the counters simply stay at zero.
        """
        for transceiver in self.pc.getTransceivers():
            receiver = transceiver.receiver
            kind = transceiver.kind
            original = getattr(receiver, "_handle_rtp_packet", None)
            if original is None or kind not in self.bytes_received:
                continue
            setattr(receiver, "_handle_rtp_packet", self._counting(original, kind))  # noqa: B010

    def _counting(self, original: Any, kind: str) -> Any:
        counts = self.bytes_received

        async def counting(packet: Any, *args: Any, **kwargs: Any) -> None:
            counts[kind] += len(packet.payload) + getattr(packet, "padding_size", 0)
            await original(packet, *args, **kwargs)

        return counting

    async def receiver_stats(self) -> dict[str, dict[str, Any]]:
        """``{kind: stats report}`` of each receiver (empty dicts on failure)."""
        result: dict[str, dict[str, Any]] = {}
        for transceiver in self.pc.getTransceivers():
            report: dict[str, Any]
            try:
                report = dict(await transceiver.receiver.getStats())
            except Exception as exc:  # stats must never break a session
                logger.debug("getStats failed: %r", exc)
                report = {}
            result.setdefault(transceiver.kind, {}).update(report)
        return result

    async def close(self) -> None:
        """Close the connection, bounded by ``PEER_CLOSE_TIMEOUT``; never raises (logs)."""
        timeout = PEER_CLOSE_TIMEOUT
        if self._close_task is None:
            self._close_task = asyncio.ensure_future(self.pc.close())
        try:
            await asyncio.wait_for(asyncio.shield(self._close_task), timeout)
        except TimeoutError:
            logger.warning("peer connection did not close within %.1f s", timeout)
            self._close_task.cancel()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.warning("closing the peer connection failed: %r", exc)


class Watchdog:
    """Calls ``on_stall(idle_seconds)`` once when ``last_media()`` is older than ``timeout``.

    ``last_media`` returns a ``time.monotonic()`` value (or None before any media).
    """

    def __init__(
        self,
        timeout: float,
        last_media: Callable[[], float | None],
        on_stall: Callable[[float], None],
    ) -> None:
        self.timeout = timeout
        self._last_media = last_media
        self._on_stall = on_stall
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start watching (idempotent)."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        started = time.monotonic()
        period = max(0.05, min(1.0, self.timeout / 5))
        while True:
            await asyncio.sleep(period)
            last = self._last_media()
            idle = time.monotonic() - (last if last is not None else started)
            if idle > self.timeout:
                self._on_stall(idle)
                return

    async def stop(self) -> None:
        """Stop watching and wait for the task to end."""
        task, self._task = self._task, None
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
