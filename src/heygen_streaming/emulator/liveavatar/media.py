"""A started LiveAvatar session's media: its LiveKit room, the avatar in it, the FULL agent
or the LITE player and socket, and the room-level faults.

Each started session gets a room named after its id on the emulator's `RoomServer`
(``/rtc``, ``/rtc/v1`` on the same port), with the participant ``heygen`` publishing the
avatar's video (H.264, or VP8 when ``video_settings.encoding`` asks) and audio (Opus), and
in FULL mode ``liveavatar-agent-<session_id>``, which carries the events. Tokens are minted
for the identities ``client`` (``livekit_client_token``) and ``agent``
(``livekit_agent_token``); ``livekit_url`` and ``ws_url`` use the Host header the caller
reached the emulator with.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web
from aiortc import MediaStreamTrack

from ..avatar import FPS, RESOLUTIONS, AvatarAudioTrack, AvatarState, AvatarVideoTrack, face_layers
from ..avatar.pcm import PcmPlayer
from ..livekit import DataMessage, Room, RoomObserver, RoomServer
from ..routes import Call
from .full import FullAgent
from .lite_socket import LiteSocket
from .options import LiveAvatarOptions
from .sessions import LaRegistry, LaSession
from .wire import la_error

if TYPE_CHECKING:
    from ..app import EmulatorApp

__all__ = ["AGENT_PREFIX", "AVATAR_IDENTITY", "MediaHub", "SessionMedia"]

AVATAR_IDENTITY = "heygen"
AGENT_PREFIX = "liveavatar-agent-"
CLIENT_IDENTITY = "client"
AGENT_IDENTITY = "agent"
AUDIO_CHUNK_SECONDS = 0.02
AUDIO_CHUNK = 960  # 20 ms at 48 kHz, as the audio track takes it
UNHEARD_TICK = 0.1
DATA_LINGER = 0.3
_QUALITY = {"low": "low", "medium": "medium", "high": "high", "very_high": "high"}


@dataclass(eq=False)
class SessionMedia:
    """What runs for one started session."""

    session: LaSession
    state: AvatarState
    room: Room
    agent: FullAgent | None = None
    player: PcmPlayer | None = None
    socket_token: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    sockets: set[LiteSocket] = field(default_factory=set, repr=False)
    clock: asyncio.Task[None] | None = field(default=None, repr=False)


async def _unheard(state: AvatarState) -> None:
    """Play the avatar's speech into the void while no viewer's audio track pulls it: the
    avatar talks (and its speak events come) whether or not anyone watches."""
    last, since = state.audio_frames_sent, time.monotonic()
    while True:
        await asyncio.sleep(UNHEARD_TICK)
        now = time.monotonic()
        if state.audio_frames_sent == last and state.unfrozen.is_set():
            for _ in range(int((now - since) / AUDIO_CHUNK_SECONDS)):
                voice = state.voice()
                if not voice.talking:
                    break
                voice.next_chunk(AUDIO_CHUNK)
        last, since = state.audio_frames_sent, now


class _Observer(RoomObserver):
    """The session's view of its room."""

    def __init__(self, media: SessionMedia) -> None:
        self.media = media

    def participant_joined(self, room: Room, identity: str) -> None:
        self.media.session.viewer_present(True)
        if self.media.agent is not None:
            self.media.agent.viewer_joined()

    def participant_left(self, room: Room, identity: str, reason: str) -> None:
        if not [c for c in room.clients if c != identity]:
            self.media.session.viewer_present(False)

    def data_received(self, room: Room, message: DataMessage) -> None:
        if self.media.agent is not None:
            self.media.agent.command(message)

    def track_received(
        self, room: Room, identity: str, kind: Literal["audio", "video"], track: MediaStreamTrack
    ) -> None:
        if self.media.agent is not None and kind == "audio":
            self.media.agent.listen(track)


class MediaHub:
    """The media of every started session, in rooms on the emulator's room server."""

    def __init__(self, app: EmulatorApp, options: LiveAvatarOptions, registry: LaRegistry) -> None:
        self.app = app
        self.options = options
        self.registry = registry
        self.rooms: RoomServer = app.rooms
        self.media: dict[str, SessionMedia] = {}
        self._refused: set[str | None] = set()

    async def start(self, session: LaSession, request: web.Request) -> dict[str, Any]:
        """Open ``session``'s room with the avatar in it; the ``/start`` answer's data."""
        settings = session.request.video_settings
        quality = _QUALITY[settings.quality if settings else "high"]
        codec: Literal["h264", "vp8"] = "vp8" if settings and settings.encoding == "VP8" else "h264"
        avatar = session.avatar.render_name
        width, height = RESOLUTIONS[quality]
        loop = asyncio.get_running_loop()  # draw a new avatar off the event loop
        await loop.run_in_executor(None, face_layers, width, height, avatar)
        seed = zlib.crc32(f"{avatar}/{session.avatar.voice.id}".encode())
        state = AvatarState(quality=quality, avatar=avatar, seed=seed, stamp=self.app.options.stamp)
        persona = session.request.avatar_persona
        speed = persona.voice_settings.speed if persona and persona.voice_settings else None
        state.voice_rate = speed or 1.0
        state.voice_pitch = session.avatar.voice.pitch
        sid = session.session_id
        room = self.rooms.create_room(sid)
        media = SessionMedia(session, state, room)
        room.observer = _Observer(media)
        self.media[sid] = media
        session.on_close.append(self._close)
        heygen = room.add_participant(AVATAR_IDENTITY, name="HeyGen avatar")
        video = AvatarVideoTrack(state)  # encoded once, in the track, for every viewer
        every = round(self.app.options.keyframe_interval * FPS)
        if codec == "vp8":
            video.encode_vp8(every)
        else:
            video.encode_h264(every)
        heygen.publish(video, kind="video", codec=codec, width=width, height=height)
        heygen.publish(AvatarAudioTrack(state), kind="audio")
        if session.mode == "FULL":
            agent = room.add_participant(AGENT_PREFIX + sid, name="LiveAvatar agent")
            media.agent = FullAgent(
                session,
                state,
                agent,
                tts_latency=self.app.options.tts_latency,
                max_text_length=self.app.options.max_text_length,
                stop=lambda reason: self.registry.close(session, reason),
            )
        else:
            media.player = PcmPlayer(
                max_buffered=self.options.max_buffered_audio,
                starve_timeout=self.options.starve_timeout,
            )
            state.pcm = media.player
        media.clock = asyncio.create_task(_unheard(state))
        ttl = session.max_duration + 600.0
        host = self.rooms.livekit_url(request)
        ws_url = f"{host}/liveavatar/ws/{sid}?token={media.socket_token}"
        return {
            "session_id": sid,
            "livekit_url": host,
            "livekit_client_token": self.rooms.token(room=sid, identity=CLIENT_IDENTITY, ttl=ttl),
            "livekit_agent_token": self.rooms.token(room=sid, identity=AGENT_IDENTITY, ttl=ttl),
            "max_session_duration": round(session.max_duration),
            "ws_url": ws_url if session.mode == "LITE" else None,
        }

    async def _close(self, session: LaSession, reason: str) -> None:
        media = self.media.pop(session.session_id, None)
        if media is None:
            return
        if media.clock is not None:
            media.clock.cancel()
        if media.agent is not None:
            await media.agent.close(reason)
            if media.room.clients:  # the room cannot flush its data channels: let
                await asyncio.sleep(DATA_LINGER)  # session.stopped leave before the peers close
        for socket in list(media.sockets):
            await socket.end(reason)
        media.state.freeze()
        await media.room.close("ROOM_DELETED")

    # -- the LITE socket -----------------------------------------------------------------------
    def socket_session(self, request: web.Request) -> LaSession:
        """The session a LITE socket request's ``token`` opens, else 401/404."""
        media = self.media.get(request.match_info.get("session_id", ""))
        token = request.query.get("token", "")
        if media is None or media.player is None:
            raise la_error(404, "Session not found or not a started LITE session")
        if not secrets.compare_digest(token.encode(), media.socket_token.encode()):
            raise la_error(401, "Invalid socket token")
        return media.session

    async def lite_socket(self, call: Call) -> web.StreamResponse:
        """``GET /liveavatar/ws/{id}?token=``: the LITE control socket."""
        media = self.media.get(call.request.match_info["session_id"])
        if media is None or media.player is None:
            raise la_error(404, "Session not found")
        socket = LiteSocket(media.session, media.player, self.options)
        for previous in list(media.sockets):  # one control socket a session: the newest wins
            await previous.end("replaced", close_session=False)
        media.sockets.add(socket)
        try:
            return await socket.serve(call.request)
        finally:
            media.sockets.discard(socket)

    # -- faults ----------------------------------------------------------------------------------
    def _selected(self, session_id: str | None) -> list[SessionMedia]:
        return [m for sid, m in self.media.items() if session_id in (None, sid)]

    def drop_media(self, session_id: str | None, seconds: float) -> int:
        """Stop forwarding the avatar's media for ``seconds`` (peers stay up)."""
        chosen = self._selected(session_id)
        for media in chosen:
            media.room.drop_media(seconds)
        return len(chosen)

    async def close_rooms(self, session_id: str | None, reason: str) -> int:
        """Close the rooms (each viewer gets ``leave`` with ``reason``); sessions live on
        until their viewer has been gone for the grace period."""
        chosen = self._selected(session_id)
        for media in chosen:
            await media.room.close(reason)
        return len(chosen)

    def refuse_joins(self, session_id: str | None, status: int | None) -> None:
        """Refuse (``status``) or allow again (None) joins to the session's room (every
        room when ``session_id`` is None; allowing with None lifts every refusal)."""
        if status is not None:
            self.rooms.refuse_joins(session_id, status)
            self._refused.add(session_id)
            return
        lifted = set(self._refused) if session_id is None else {session_id}
        for name in lifted:
            self.rooms.allow_joins(name)
            self._refused.discard(name)

    async def drop_sockets(self, session_id: str | None) -> int:
        """Close the LITE sockets abruptly (the session lives on; the client may reconnect)."""
        count = 0
        for media in self._selected(session_id):
            for socket in list(media.sockets):
                await socket.drop()
                count += 1
        return count

    def freeze(self, session_id: str | None, frozen: bool) -> int:
        """Stop or resume the avatar's media (``Faults.freeze_media``)."""
        chosen = self._selected(session_id)
        for media in chosen:
            if frozen:
                media.state.freeze()
            else:
                media.state.thaw()
        return len(chosen)
