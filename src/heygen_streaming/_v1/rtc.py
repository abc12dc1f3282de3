"""The aiortc peer of a session: the server's offer in, our answer and candidates out.

aiortc behaviours this module works around:

* With no ``RTCConfiguration`` ice servers aiortc would use Google's public STUN, so the
  server's ``ice_servers2`` (else ``ice_servers``, else ``[]``) is always passed. aioice
  uses only the first STUN and the first TURN URL, and an unreachable one costs 5 s of
  gathering: the session's ``ice_gather_timeout`` lowers that bound. A URL aiortc cannot
  parse would fail the whole offer: it is skipped with a warning instead; a list longer
  than `MAX_ICE_SERVERS` is cut there.
* aiortc does not trickle: ``setLocalDescription`` returns after gathering and the answer
  SDP holds every candidate. `local_candidates` extracts them for ``streaming.ice``.
* aioice matches remote candidates by a linear scan each (quadratic overall): the offer's
  candidates are capped (`MAX_REMOTE_CANDIDATES`) before aiortc sees them; so are its
  ``a=ssrc`` lines (`MAX_REMOTE_SSRC_LINES`), which aiortc's SDP parser also matches
  quadratically.
* Each received track runs a decoder thread, not a daemon, that aiortc stops only in a
  close run to its end: `Peer.close` stops them first, synchronously, and a guard task
  stops them when the loop is torn down with the peer still open; the close is bounded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._errors import ConnectionFailed
from . import aiortc_private as _aiortc_private
from .wire import is_ice_server

if TYPE_CHECKING:
    from .created import CreatedSession
    from .models import IceServer, NewSessionInfo

__all__ = [
    "MAX_ICE_SERVERS",
    "MAX_REMOTE_CANDIDATES",
    "MAX_REMOTE_SSRC_LINES",
    "Peer",
    "cap_candidates",
    "ice_servers_for",
    "local_candidates",
    "post_candidates",
]

logger = logging.getLogger("heygen_streaming")

PEER_CLOSE_TIMEOUT = 5.0
MAX_REMOTE_CANDIDATES = 64
MAX_REMOTE_SSRC_LINES = 64
MAX_ICE_SERVERS = 16
"""ICE server entries kept from a list (aioice uses the first STUN and the first TURN)."""
"""``a=ssrc`` lines kept from the server's offer (aiortc parses them in quadratic time)."""


def ice_servers_for(
    info: CreatedSession | NewSessionInfo,
    override: Sequence[IceServer | dict[str, Any]] | None = None,
) -> list[Any]:
    """``RTCIceServer`` list for a session: ``override``, else ice_servers2, ice_servers, [].

    Entries or URLs aiortc could not use are skipped with a warning naming them.
    """
    from aiortc import RTCIceServer

    servers: Sequence[Any]
    if override is not None:
        servers = override
    elif info.ice_servers2:
        servers = info.ice_servers2
    elif info.ice_servers:
        servers = info.ice_servers
    else:
        servers = []
    if len(servers) > MAX_ICE_SERVERS:
        logger.warning("%d ICE servers listed: using the first %d", len(servers), MAX_ICE_SERVERS)
        servers = servers[:MAX_ICE_SERVERS]
    result = []
    for server in servers:
        fields: dict[str, Any] = (
            dict(server)
            if isinstance(server, Mapping)
            else {key: getattr(server, key, None) for key in ("urls", "username", "credential")}
        )
        if not is_ice_server(fields):
            logger.warning("skipping an ICE server entry that is not one: %.200r", server)
            continue
        urls = [fields["urls"]] if isinstance(fields["urls"], str) else list(fields["urls"])
        usable = []
        for url in urls:
            try:
                _aiortc_private.parse_ice_url(url)
            except (ValueError, TypeError, AttributeError):
                logger.warning("skipping a malformed ICE server URL: %.200r", url)
                continue
            usable.append(url)
        if usable:
            kept: str | list[str] = fields["urls"] if usable == [fields["urls"]] else usable
            username, credential = fields.get("username"), fields.get("credential")
            result.append(RTCIceServer(urls=kept, username=username, credential=credential))
    return result


def cap_candidates(
    sdp: str, limit: int = MAX_REMOTE_CANDIDATES, *, prefix: str = "a=candidate:"
) -> tuple[str, int]:
    """``(sdp, dropped)``: the SDP with at most ``limit`` lines starting with ``prefix``."""
    kept = dropped = 0
    lines = []
    for line in sdp.splitlines(keepends=True):
        if line.startswith(prefix):
            if kept >= limit:
                dropped += 1
                continue
            kept += 1
        lines.append(line)
    return ("".join(lines), dropped) if dropped else (sdp, 0)


def local_candidates(sdp: str) -> list[dict[str, Any]]:
    """The candidates of an SDP (first BUNDLE section only), then end-of-candidates.

    With BUNDLE every section repeats the same candidates; only the first section's are
    returned (aiortc on the other side drops candidates of non-first bundle mids anyway).
    Each is a browser-style ``RTCIceCandidate.toJSON()`` dict; the last item is the empty
    end-of-candidates candidate.
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
    return [{"candidate": c, "sdpMid": mid, "sdpMLineIndex": index} for c in (*lines, "")]


async def post_candidates(client: Any, session_id: str, candidates: list[dict[str, Any]]) -> None:
    """Post candidates to ``streaming.ice`` concurrently, then end-of-candidates.

    The answer SDP holds the same candidates, so failures are logged, not raised.
    """
    from .._errors import HeyGenError

    *real, end = candidates or [{"candidate": ""}]

    async def post(candidate: dict[str, Any]) -> None:
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
        self._close_task: asyncio.Task[None] | None = None
        self._on_state = on_state
        self._gather_timeout = gather_timeout
        # Cancelled by `close`, or with every other task when the loop is torn down
        # (asyncio.run after a second Ctrl-C): either way the decoder threads stop.
        self._guard = asyncio.ensure_future(self._stop_decoders_when_cancelled())

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

    async def answer(self, offer: str, offer_type: str = "offer") -> str:
        """Apply the server's offer and return our answer SDP (after candidate gathering)."""
        from aiortc import RTCSessionDescription

        sdp, dropped = cap_candidates(offer)
        if dropped:
            logger.warning(
                "the server's offer lists %d candidates: using the first %d",
                dropped + MAX_REMOTE_CANDIDATES,
                MAX_REMOTE_CANDIDATES,
            )
        sdp, dropped = cap_candidates(sdp, MAX_REMOTE_SSRC_LINES, prefix="a=ssrc:")
        if dropped:
            logger.warning(
                "the server's offer: ignored %d a=ssrc lines beyond %d",
                dropped,
                MAX_REMOTE_SSRC_LINES,
            )
        try:
            await self.pc.setRemoteDescription(
                RTCSessionDescription(sdp=sdp, type=offer_type or "offer")
            )
        except Exception as exc:
            raise ConnectionFailed(
                f"could not apply the server's SDP offer: {type(exc).__name__}: {exc}",
                states=self.states,
            ) from exc
        _aiortc_private.count_rtp_bytes(self.pc, self.bytes_received)
        if self._gather_timeout is not None:
            _aiortc_private.limit_gathering(self.pc, self._gather_timeout)
        try:
            answer = await self.pc.createAnswer()
            await self.pc.setLocalDescription(answer)
        except Exception as exc:
            raise ConnectionFailed(
                f"could not create the SDP answer: {type(exc).__name__}: {exc}",
                states=self.states,
            ) from exc
        return str(self.pc.localDescription.sdp)

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

    async def _stop_decoders_when_cancelled(self) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            _aiortc_private.stop_decoders(self.pc)

    async def close(self) -> None:
        """Close the connection, bounded by ``PEER_CLOSE_TIMEOUT``; never raises (logs).

        The decoder threads (not daemons) are stopped first, synchronously: a close cut
        short must not leave one to hang the process at exit.
        """
        timeout = PEER_CLOSE_TIMEOUT
        self._guard.cancel()
        _aiortc_private.stop_decoders(self.pc)
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
