"""The media side of a `RealtimeSession`: frames decoded from its HLS stream, recordings.

One `HlsDecoder` (started by the first `video`/`audio` subscription) feeds two
`FrameFanout`s; each `record` runs its own `HlsRemuxer` from the first listed segment.
All HLS requests share one HTTP client without credentials: the one injected
(``StreamingClient(hls_http_client=...)``), else one opened and closed here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

import httpx

from .._media.recording import RecordingInfo
from .._media.streams import (
    AUDIO_MAX_BYTES,
    VIDEO_MAX_BYTES,
    FrameFanout,
    FrameStream,
    audio_resampler,
)
from .hls.fetch import hls_http_client
from .hls.media import HlsDecoder, HlsRemuxer

if TYPE_CHECKING:
    import av

__all__ = ["RealtimeMedia"]

logger = logging.getLogger("heygen_streaming")


def _default_budget(kind: str) -> int:
    return VIDEO_MAX_BYTES if kind == "video" else AUDIO_MAX_BYTES


class RealtimeMedia:
    """Frame streams and recordings of one realtime stream.

    ``on_end`` is called (on the loop) whenever the decoder or a recording reached the end
    of the HLS stream, so the session can ask the service for the final status at once.
    """

    def __init__(
        self,
        video_capacity: int,
        audio_capacity: int,
        on_end: Callable[[], None],
        http: httpx.AsyncClient | None = None,
        *,
        hls_hosts: Collection[str] = (),
    ) -> None:
        self.video_capacity = video_capacity
        self.audio_capacity = audio_capacity
        self._on_end = on_end
        self._fanouts = {"video": FrameFanout("video"), "audio": FrameFanout("audio")}
        self._url: str | None = None
        self._over = False
        self._decoder: HlsDecoder | None = None
        self._recorders: dict[HlsRemuxer, asyncio.Future[RecordingInfo]] = {}
        self._http = http
        self._owns_http = http is None
        self._hls_hosts = tuple(hls_hosts)

    @property
    def url(self) -> str | None:
        """The playlist URL, once known."""
        return self._url

    def set_url(self, url: str) -> None:
        """The playlist is live at ``url`` (the first URL seen is kept); streams asked for
        before (a stream opened without text) start decoding now."""
        if self._url is None:
            self._url = url
            if any(fanout.streams for fanout in self._fanouts.values()):
                self._ensure_decoder()

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = hls_http_client()
        return self._http

    # -- frames ----------------------------------------------------------------------------

    def video(self, capacity: int | None, max_bytes: int | None) -> FrameStream[av.VideoFrame]:
        """A new bounded stream of decoded video frames; starts decoding if needed."""
        fanout = self._fanouts["video"]
        stream = fanout.subscribe(capacity or self.video_capacity, max_bytes=max_bytes)
        self._ensure_decoder()
        return stream

    def audio(
        self,
        capacity: int | None,
        max_bytes: int | None,
        *,
        sample_rate: int | None,
        layout: str | None,
        format: str | None,
    ) -> FrameStream[av.AudioFrame]:
        """A new bounded stream of decoded audio frames (resampled if asked)."""
        transform = audio_resampler(sample_rate, layout, format)
        fanout = self._fanouts["audio"]
        stream = fanout.subscribe(capacity or self.audio_capacity, transform, max_bytes=max_bytes)
        self._ensure_decoder()
        return stream

    def _ensure_decoder(self) -> None:
        if self._decoder is not None:
            return
        if self._url is None:
            if self._over:  # ended without ever being live: nothing to play
                self._end_fanouts()
            return
        self._decoder = HlsDecoder(
            self._url,
            self._client(),
            self._publish,
            self._decoded_all,
            self._wanted,
            budget=self._handoff_budget,
            hosts=self._hls_hosts,
        )
        self._decoder.start()
        if self._over:
            self._decoder.finish()

    def _handoff_budget(self) -> int:
        """Bytes of decoded frames the decoder thread may hand over while the loop has
        not taken them yet: the largest byte budget of each kind's streams, summed
        (called from the decoder thread: plain reads)."""
        total = 0
        for kind, fanout in self._fanouts.items():
            budgets = [getattr(s, "max_bytes", None) for s in fanout.streams]
            total += max((b for b in budgets if b), default=_default_budget(kind))
        return total

    def _wanted(self, kind: str) -> bool:
        """Whether a stream reads ``kind`` (called from the decoder thread: a plain read)."""
        return bool(self._fanouts[kind].streams)

    def _publish(self, kind: str, frame: Any) -> None:
        self._fanouts[kind].publish(frame)

    def _decoded_all(self, error: BaseException | None) -> None:
        self._on_end()
        if error is None:
            self._end_fanouts()
            return
        logger.warning("realtime: HLS reading failed: %s", error)
        self._end_fanouts(reason="hls_failed", message=f"HLS reading failed: {error}")

    def _end_fanouts(self, *, reason: str | None = None, message: str = "") -> None:
        for fanout in self._fanouts.values():
            fanout.end(reason=reason, message=message)

    # -- recording -------------------------------------------------------------------------

    async def record(self, path: str | os.PathLike[str], duration: float | None) -> RecordingInfo:
        """Remux the stream into ``path`` until it ends (or ``duration`` media seconds)."""
        assert self._url is not None
        recorder = HlsRemuxer(
            self._url, self._client(), path, duration=duration, hosts=self._hls_hosts
        )
        result = recorder.start()
        self._recorders[recorder] = result
        if self._over:
            recorder.finish()
        try:
            return await asyncio.shield(result)
        except asyncio.CancelledError:
            recorder.stop()  # the file is still finished properly
            with contextlib.suppress(BaseException):
                await result
            raise
        finally:
            self._recorders.pop(recorder, None)
            self._on_end()

    # -- end -------------------------------------------------------------------------------

    def stream_over(self) -> None:
        """The service says the stream ended: read what is still listed, then stop."""
        self._over = True
        if self._decoder is not None:
            self._decoder.finish()
        elif self._url is None:  # it ended without ever being live: nothing to play
            self._end_fanouts()
        for recorder in self._recorders:
            recorder.finish()

    def fail(self, message: str, *, reason: str = "error") -> None:
        """The stream failed (or did not start): readers drain their queues, then get
        ``SessionClosed(message, reason=reason)``."""
        self._end_fanouts(reason=reason, message=message)
        self.stream_over()

    async def close(self, wait: float = 5.0) -> None:
        """Stop decoding and recording (files are finished) and release the HTTP client."""
        self._over = True
        for recorder in self._recorders:
            recorder.stop()
        if self._recorders:
            await asyncio.wait(list(self._recorders.values()), timeout=wait)
        if self._decoder is not None:
            await self._decoder.stop()
        self._end_fanouts()
        if self._http is not None and self._owns_http:
            await self._http.aclose()
