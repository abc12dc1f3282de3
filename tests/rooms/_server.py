"""Server side of the room tests: a `RoomServer` on an aiohttp site, an observer that
records what the room reports, and the emulator's avatar tracks to publish.

Everything here is created and used on one event loop (in the tests, a `NetnsLoop` inside
the server's namespace).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from heygen_streaming.emulator.avatar import AvatarAudioTrack, AvatarState, AvatarVideoTrack
from heygen_streaming.emulator.livekit import DataMessage, Room, RoomObserver, RoomServer


class RecordingObserver(RoomObserver):
    """Records every report; `wait` waits for one to satisfy a predicate."""

    def __init__(self) -> None:
        self.joined: list[str] = []
        self.left: list[tuple[str, str]] = []
        self.data: list[DataMessage] = []
        self.tracks: list[tuple[str, str, MediaStreamTrack]] = []
        self._changed = asyncio.Event()

    def participant_joined(self, room: Room, identity: str) -> None:
        self.joined.append(identity)
        self._changed.set()

    def participant_left(self, room: Room, identity: str, reason: str) -> None:
        self.left.append((identity, reason))
        self._changed.set()

    def data_received(self, room: Room, message: DataMessage) -> None:
        self.data.append(message)
        self._changed.set()

    def track_received(self, room: Room, identity: str, kind: Any, track: MediaStreamTrack) -> None:
        self.tracks.append((identity, kind, track))
        self._changed.set()

    async def wait(self, predicate: Callable[[], Any], within: float = 10.0) -> Any:
        """The first truthy ``predicate()`` (re-checked on each report)."""
        async with asyncio.timeout(within):
            while not (value := predicate()):
                self._changed.clear()
                await self._changed.wait()
            return value


class RoomHost:
    """An aiohttp application serving a `RoomServer` (``start`` binds ``host``:any port)."""

    def __init__(self, **server_options: Any) -> None:
        self.server = RoomServer(**server_options)
        self.app = web.Application()
        self.server.add_routes(self.app)
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self, host: str) -> str:
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, 0).start()
        port = self._runner.addresses[0][1]
        self.url = f"ws://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        await self.server.aclose()
        if self._runner is not None:
            await self._runner.cleanup()


def avatar_tracks(codec: str = "h264") -> tuple[AvatarState, AvatarVideoTrack, AvatarAudioTrack]:
    """The emulator's avatar (640x360, 25 fps): VP8 pre-encoded by its own encoder, or raw
    frames that aiortc encodes as H.264."""
    state = AvatarState(quality="low")
    video = AvatarVideoTrack(state)
    if codec == "vp8":
        video.encode_vp8(50)
    return state, video, AvatarAudioTrack(state)


class Source(MediaStreamTrack):
    """A track whose frames the test feeds (``feed``); counts what was read."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.frames: asyncio.Queue[Any] = asyncio.Queue()
        self.read = 0
        self.keyframes = 0

    async def recv(self) -> Any:
        frame = await self.frames.get()
        self.frames.task_done()  # `await frames.join()`: every frame fed was taken
        if frame is None:
            raise MediaStreamError
        self.read += 1
        return frame

    def request_keyframe(self) -> None:
        self.keyframes += 1
