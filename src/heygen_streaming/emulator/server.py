"""``Emulator``: run the offline HeyGen server (v1, Avatar Realtime) in the current event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from aiohttp import web

from .app import MAX_TEXT_LENGTH, EmulatorApp, EmulatorOptions
from .avatar import RESOLUTIONS, face_layers, idle_packets
from .faults import Faults
from .listener import DEFAULT_HEADER_TIMEOUT, HeaderDeadlineSite
from .liveavatar import LiveAvatarApi, LiveAvatarOptions
from .livekit import RoomServer
from .sessions import EmulatedSession
from .stun import StunResponder
from .v3 import RealtimeOptions, V3Api
from .versions import API_VERSIONS

__all__ = ["Emulator"]


class Emulator:
    """An offline HeyGen server: Streaming API v1 (HTTP + one aiortc peer per session) and
    Avatar Realtime (v3, HLS), on one port.

    Args:
        api_key: the accepted ``X-Api-Key``; ``None`` accepts any non-empty key (each key
            is then its own account).
        host, port: where to listen; ``port=0`` picks a free port (see `base_url`).
        extra_keys: more accepted keys (other accounts, for isolation tests).
        max_sessions: concurrent sessions allowed per key (account).
        max_total_sessions: concurrent sessions allowed in all (what bounds any-key mode,
            where every key is an account of its own).
        idle_timeout: seconds without ``streaming.task``/``keep_alive`` before a session
            closes (the vendor default is 120); ``None`` disables it. A request's
            ``activity_idle_timeout`` (30–3599 s) or ``disable_idle_timeout`` overrides it.
        duration_limit: seconds a session may live at most (``session_duration_limit``).
        token_ttl: lifetime of ``streaming.create_token`` tokens, in seconds.
        ice_servers: returned as ``ice_servers2``; ``None`` (the default) lists the
            emulator's own STUN responder (see `stun`), bound where HTTP is and listed at
            the local address each client reached, unless ``stun`` is False, then
            ``[]``. ``ice_servers`` itself is ``null``, as in the 2025 capture.
        stun: run the STUN responder.
        header_timeout: seconds a connection has to send its request headers (slow-header
            clients are dropped instead of holding connections forever).
        retransmit: answer NACKs even without ``rtcp_feedback`` (aiortc receivers send them
            regardless and stall for seconds per lost packet without retransmission).
            ``False`` ignores them, as pion without negotiated ``nack`` would.
        max_text_length: longest accepted ``streaming.task`` text.
        tts_latency: simulated text-to-speech time before speech is queued, in seconds.
            ``task_mode="sync"`` (the default) answers after it, ``"async"`` at once.
        max_queued_tasks: unfinished ``streaming.task`` calls per session; one more is
            answered HTTP 429, code 400123.
        avatars: accepted avatar names/ids (``None``: any); others get ``10013 avatar not
            found``.
        retired: answer every v1 route with HTTP 410 ``endpoint_sunset``, as HeyGen does
            since 2026.
        rtcp_feedback: offer NACK/PLI/REMB and RTX and honour them. Off by default: HeyGen's
            captured offers negotiated no RTCP feedback at all.
        keyframe_interval: seconds between forced VP8 key frames: the only loss recovery
            when ``rtcp_feedback`` is off, a bound on a freeze when it is on.
        realtime: Avatar Realtime (``/v3/avatar-realtime``) limits and segment length.
        liveavatar: LiveAvatar (``/v1/sessions/*``, its rooms and LITE socket) limits and
            lifecycle (`LiveAvatarOptions`).
        stamp: write the frame stamp (`read_stamp`) into every video frame, for loss and
            latency measurements in tests and benchmarks; off by default (a clean picture).
    """

    def __init__(
        self,
        api_key: str | None = "test-key",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        extra_keys: Iterable[str] = (),
        max_sessions: int = 100,
        max_total_sessions: int = 200,
        idle_timeout: float | None = 120.0,
        duration_limit: float = 600.0,
        token_ttl: float = 600.0,
        ice_servers: list[dict[str, Any]] | None = None,
        max_text_length: int = MAX_TEXT_LENGTH,
        tts_latency: float = 0.05,
        max_queued_tasks: int = 32,
        avatars: Iterable[str] | None = None,
        retired: bool = False,
        rtcp_feedback: bool = False,
        keyframe_interval: float = 2.0,
        stun: bool = True,
        retransmit: bool = True,
        header_timeout: float = DEFAULT_HEADER_TIMEOUT,
        realtime: RealtimeOptions | None = None,
        liveavatar: LiveAvatarOptions | None = None,
        stamp: bool = False,
    ) -> None:
        keys = None if api_key is None else [api_key, *extra_keys]
        self.host = host
        self.port = port
        self.header_timeout = header_timeout
        options = EmulatorOptions(
            max_text_length=max_text_length,
            tts_latency=tts_latency,
            max_queued_tasks=max_queued_tasks,
            retired=retired,
            rtcp_feedback=rtcp_feedback,
            keyframe_interval=keyframe_interval,
            retransmit=retransmit,
            avatars=None if avatars is None else frozenset(avatars),
            realtime=realtime or RealtimeOptions(),
            liveavatar=liveavatar or LiveAvatarOptions(),
            stamp=stamp,
        )
        self._app = EmulatorApp(
            api_keys=keys,
            max_sessions=max_sessions,
            max_total_sessions=max_total_sessions,
            idle_timeout=idle_timeout,
            duration_limit=duration_limit,
            token_ttl=token_ttl,
            options=options,
            versions=API_VERSIONS,
        )
        self._app.ice_servers = list(ice_servers or [])
        self.stun: StunResponder | None = None
        if ice_servers is None and stun:
            # Same address as HTTP; listed per request at the address the client reached.
            self.stun = StunResponder(host or "0.0.0.0")
        self._runner: web.AppRunner | None = None

    def __repr__(self) -> str:
        return f"Emulator(base_url={self.base_url!r}, sessions={len(self.sessions)})"

    @property
    def base_url(self) -> str:
        """``http://host:port`` once started."""
        return self._app.base_url

    @property
    def faults(self) -> Faults:
        """Fault-injection switches (see `heygen_streaming.emulator.faults`)."""
        return self._app.faults

    @property
    def realtime(self) -> V3Api:
        """The Avatar Realtime (v3) side: ``realtime.registry.streams`` by id."""
        return next(v for v in self._app.versions if isinstance(v, V3Api))

    @property
    def liveavatar(self) -> LiveAvatarApi:
        """The LiveAvatar side: ``liveavatar.registry.sessions`` by id, ``liveavatar.media``
        (each started session's room and avatar)."""
        return next(v for v in self._app.versions if isinstance(v, LiveAvatarApi))

    @property
    def rooms(self) -> RoomServer:
        """The LiveKit-compatible room server (``/rtc``, ``/rtc/v1``) on the same port."""
        return self._app.rooms

    @property
    def sessions(self) -> list[EmulatedSession]:
        """Live sessions (all keys), oldest first."""
        return list(self._app.registry.sessions.values())

    def get_session(self, session_id: str) -> EmulatedSession | None:
        """A live session by id, or ``None``."""
        return self._app.registry.sessions.get(session_id)

    async def wait_closed(self, session_id: str, *, within: float = 10.0) -> str:
        """Wait until the session ``session_id`` is closed; return the reason."""
        session = self.get_session(session_id)
        if session is None:
            return "closed"
        return await asyncio.wait_for(session.wait_closed(), within)

    async def reset(self) -> int:
        """End every session and stream of every API, forget tokens and clear faults, as
        if the emulator were new (same port, same settings); returns how many sessions
        and streams were ended. The pytest plugin calls it between tests that share one."""
        return await self._app.reset()

    async def wait_no_sessions(self, *, within: float = 10.0) -> None:
        """Wait until no session is live (each closed by its client or a timeout)."""
        async with asyncio.timeout(within):
            while self._app.registry.sessions:
                session = next(iter(self._app.registry.sessions.values()))
                await session.wait_closed()

    async def start(self) -> None:
        """Bind and start serving."""
        if self._runner is not None:
            return
        await asyncio.get_running_loop().run_in_executor(None, _warm_caches)
        if self.stun is not None:
            await self.stun.start()
            self._app.stun = self.stun
        # A kept-alive connection must start its next request within the header deadline
        # too (aiohttp's default keep-alive timeout is an hour: idle or dribbling
        # connections would pile up until the process runs out of file descriptors).
        runner = web.AppRunner(
            self._app.app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=1.0,
            keepalive_timeout=self.header_timeout,
        )
        await runner.setup()
        site = HeaderDeadlineSite(runner, self.host, self.port, header_timeout=self.header_timeout)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = site.bound_port
        host = self.host
        if ":" in host:
            host = f"[{host}]"
        elif host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        self._app.base_url = f"http://{host}:{self.port}"

    async def close(self) -> None:
        """Close every session (and peer), then stop serving."""
        await self._app.registry.close_all("emulator shutdown")
        await self.liveavatar.registry.close_all("SERVER_ERROR")  # viewers hear session.stopped
        await self._app.rooms.aclose()
        if self.stun is not None:
            self.stun.close()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def _warm_caches() -> None:
    """Draw the default avatar and encode the idle audio once, before the first session."""
    for width, height in RESOLUTIONS.values():
        face_layers(width, height, "emulator")
    idle_packets()
