"""HLS playback, the media half: decode to frames, or remux to a file, on a worker thread.

Both read a `BytePipe` that an `HlsFetcher` fills, as one continuous MPEG-TS or fragmented
MP4 file, with PyAV on a dedicated thread (never on the event loop). `HlsDecoder` hands
every decoded frame to the loop through a `FrameHandoff` (bounded in bytes: the thread
waits while the loop is busy); `HlsRemuxer` copies the H.264/AAC packets into an MP4 (or
MKV, MOV) without re-encoding.

Whatever goes wrong is an `HlsError` that says why: the fetch's own failure when it cut
the bytes short (an HTTP status, the segment size cap), else what PyAV said about the
bytes it got (a truncated init section is not a bare ``ValueError``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable, Collection
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx

from ..._errors import ConfigurationError
from ..._media.handoff import FrameHandoff
from ..._media.recording import RecordingInfo
from ..._media.streams import VIDEO_MAX_BYTES, frame_nbytes
from .fetch import BytePipe, HlsError, HlsFetcher

__all__ = ["REMUX_SUFFIXES", "HlsDecoder", "HlsRemuxer", "check_remux_path"]

logger = logging.getLogger("heygen_streaming")

_KINDS = ("video", "audio")
_JOIN_TIMEOUT = 5.0  # seconds `HlsDecoder.stop` waits for its thread

REMUX_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".ts")
"""Containers that take H.264 + AAC packets as they are."""


def check_remux_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path, or `ConfigurationError` when its container cannot take the packets."""
    target = Path(path)
    if target.suffix.lower() not in REMUX_SUFFIXES:
        raise ConfigurationError(
            f"cannot record the H.264/AAC stream to {target.suffix or 'a file without extension'!r}"
            f" without re-encoding: use one of {', '.join(REMUX_SUFFIXES)}"
        )
    if not target.parent.is_dir():
        raise ConfigurationError(f"cannot write {str(target)!r}: its folder does not exist")
    return target


_JUMP = 10
"""Seconds a stream's timestamps may leap forward before the remuxer treats it as a
discontinuity (FFmpeg's ``dts_delta_threshold``)."""

# FFmpeg analyses 5 s of media before it starts (fps guessing): with segments shorter than
# that it would wait for the second or third one. 0.1 s is enough to find both codecs'
# parameters, and the packets read meanwhile are kept (no "nobuffer": it drops them).
_OPEN_OPTIONS = {"analyzeduration": "100000"}


def _open(pipe: BytePipe, container: str | None) -> Any:
    """The pipe opened as a PyAV input, or None when it ended before any byte."""
    try:
        return av.open(pipe, mode="r", format=container, options=dict(_OPEN_OPTIONS))
    except av.error.FFmpegError:
        if pipe.total == 0:
            return None
        raise


class _Worker(asyncio.Future[None]):
    """A future for a thread's work, resolved on the loop when it returns; `join` it."""

    thread: threading.Thread

    def join(self) -> None:
        """Wait for the thread's last instruction (it has resolved this future already)."""
        if self.done():
            self.thread.join(timeout=1.0)


def _worker(name: str, target: Callable[[], None]) -> _Worker:
    """Run ``target`` on a new daemon thread; the future resolves on the loop when it ends."""
    loop = asyncio.get_running_loop()
    future = _Worker(loop=loop)

    def done(error: BaseException | None) -> None:
        if future.done():
            return
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)

    def run() -> None:
        error: BaseException | None = None
        try:
            target()
        except BaseException as exc:
            error = exc
        with contextlib.suppress(RuntimeError):  # loop already closed
            loop.call_soon_threadsafe(done, error)

    future.thread = threading.Thread(target=run, name=name, daemon=True)
    future.thread.start()
    future.add_done_callback(_retrieved)  # its error is read (or moot) once stopped
    return future


def _retrieved(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


def _failure(doing: str, error: BaseException, fetch: asyncio.Task[None]) -> HlsError:
    """The `HlsError` to report when the worker failed with ``error``: the fetch's own
    failure if it ended first (it cut the bytes short: that is the cause), else ``error``
    (an `HlsError` as it is, anything else named)."""
    if fetch.done() and not fetch.cancelled():
        cause = fetch.exception()
        if isinstance(cause, HlsError):
            return cause
    if isinstance(error, HlsError):
        return error
    detail = str(error) or type(error).__name__
    failure = HlsError(f"the HLS stream could not be {doing}: {type(error).__name__}: {detail}")
    failure.__cause__ = error
    return failure


class HlsDecoder:
    """Fetch and decode one HLS stream; frames go to ``on_frame(kind, frame)`` on the loop.

    ``on_end(error)`` is called on the loop once, when the stream ended (``None``) or failed.
    ``wanted(kind)`` says whether anybody reads that kind: packets nobody wants are not
    decoded (a video decode that starts later waits for a key frame).
    """

    def __init__(
        self,
        url: str,
        http: httpx.AsyncClient,
        on_frame: Callable[[str, Any], None],
        on_end: Callable[[BaseException | None], None],
        wanted: Callable[[str], bool] = lambda kind: True,
        *,
        budget: Callable[[], int] = lambda: VIDEO_MAX_BYTES,
        hosts: Collection[str] = (),
    ) -> None:
        self._url = url
        self._http = http
        self._on_frame = on_frame
        self._on_end = on_end
        self._wanted = wanted
        self._budget = budget
        self._hosts = tuple(hosts)
        self._stop = threading.Event()
        self._pipe: BytePipe | None = None
        self._fetcher: HlsFetcher | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread: _Worker | None = None
        self.handoff: FrameHandoff | None = None
        self.corrupt_packets = 0
        self.decoded = {"video": 0, "audio": 0}

    def start(self) -> None:
        """Begin fetching and decoding (idempotent)."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    def finish(self) -> None:
        """The stream is over: decode what is still listed, then end."""
        if self._fetcher is not None:
            self._fetcher.finish()

    async def stop(self) -> None:
        """Stop now (idempotent): the fetch is cancelled and the thread ends."""
        self._stop.set()
        if self.handoff is not None:
            self.handoff.close()
        if self._pipe is not None:
            self._pipe.abort()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._thread is not None:  # the pipe ended: PyAV reads EOF and the thread returns
            await asyncio.wait({self._thread}, timeout=_JOIN_TIMEOUT)
            self._thread.join()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        self._pipe = pipe = BytePipe(loop)
        self._fetcher = fetcher = HlsFetcher(self._url, self._http, pipe, hosts=self._hosts)
        self.handoff = FrameHandoff(loop, self._on_frame, self._budget, frame_nbytes)
        fetch = asyncio.ensure_future(fetcher.run())
        error: BaseException | None = None
        try:
            container = await fetcher.wait_container()
            self._thread = _worker("heygen-hls-decode", lambda: self._decode(pipe, container))
            try:
                await asyncio.shield(self._thread)
            except Exception as exc:
                raise _failure("decoded", exc, fetch)  # noqa: B904 - the cause is kept
            await fetch
        except Exception as exc:
            error = exc
        finally:
            pipe.abort()
            if not fetch.done():
                fetch.cancel()
            await asyncio.gather(fetch, return_exceptions=True)
        self._on_end(error)

    def _decode(self, pipe: BytePipe, fmt: str | None) -> None:
        handoff = self.handoff
        assert handoff is not None
        container = _open(pipe, fmt)
        if container is None:
            return
        decoding: set[str] = set()
        try:
            streams = [s for s in container.streams if s.type in _KINDS]
            for packet in container.demux(streams):
                if self._stop.is_set():
                    return
                kind = packet.stream.type
                if not self._wanted(kind):
                    decoding.discard(kind)
                    continue
                if kind not in decoding:
                    if kind == "video" and not packet.is_keyframe:
                        continue  # a decoder (re)starts at a key frame
                    decoding.add(kind)
                try:
                    frames = packet.decode()
                except av.error.InvalidDataError:
                    self.corrupt_packets += 1
                    continue
                for frame in frames:
                    self.decoded[kind] += 1
                    if not handoff.put(kind, frame):  # waits while the loop is behind
                        return
        finally:
            container.close()


class HlsRemuxer:
    """Copy one HLS stream's packets into ``path``, from its first listed segment.

    `start` returns a future of the `RecordingInfo`. Recording ends at the end of the
    stream (see `finish`), after ``duration`` media seconds, or at `stop`; the file is
    always finished properly.
    """

    def __init__(
        self,
        url: str,
        http: httpx.AsyncClient,
        path: str | os.PathLike[str],
        *,
        duration: float | None = None,
        hosts: Collection[str] = (),
    ) -> None:
        self._url = url
        self._http = http
        self._hosts = tuple(hosts)
        self.path = Path(path)
        self._duration = duration
        self._halt = threading.Event()
        self._stopped = False
        self._pipe: BytePipe | None = None
        self._fetcher: HlsFetcher | None = None

    def start(self) -> asyncio.Future[RecordingInfo]:
        """Begin; the future resolves when the file is complete."""
        self._pipe = BytePipe(asyncio.get_running_loop())
        self._fetcher = HlsFetcher(self._url, self._http, self._pipe, hosts=self._hosts)
        return asyncio.ensure_future(self._run(self._fetcher, self._pipe))

    def finish(self) -> None:
        """The stream is over: record what is still listed, then end."""
        if self._fetcher is not None:
            self._fetcher.finish()

    def stop(self) -> None:
        """End the recording now (what was read so far is kept)."""
        self._stopped = True
        self._halt.set()
        if self._pipe is not None:
            self._pipe.close()

    async def _run(self, fetcher: HlsFetcher, pipe: BytePipe) -> RecordingInfo:
        result: list[RecordingInfo] = []
        fetch = asyncio.ensure_future(fetcher.run())
        try:
            container = await fetcher.wait_container()

            def work() -> None:
                result.append(_remux(pipe, container, self.path, self._duration, self._halt))

            worker = _worker("heygen-hls-remux", work)
            try:
                await worker
                worker.join()
            except Exception as exc:  # a failed fetch (it cut the bytes short) says more
                raise _failure("recorded", exc, fetch)  # noqa: B904 - the cause is kept
            finally:
                self._halt.set()
                pipe.abort()
            if fetch.done() and not fetch.cancelled() and not self._stopped:
                await fetch  # a fetch failure cut the recording short: raise it
        finally:
            fetch.cancel()
            await asyncio.gather(fetch, return_exceptions=True)
        return result[0]


def _remux(
    pipe: BytePipe,
    fmt: str | None,
    path: Path,
    duration: float | None,
    stop: threading.Event,
) -> RecordingInfo:
    counts = {"video": 0, "audio": 0}
    written = 0.0
    source = _open(pipe, fmt)
    if source is None:
        raise HlsError("the HLS stream ended before any media arrived: nothing recorded")
    try:
        inputs = [s for s in source.streams if s.type in _KINDS]
        output = av.open(str(path), mode="w")
        try:
            outputs = {s.index: output.add_stream_from_template(s) for s in inputs}
            pending: list[Any] = []
            offset: Fraction | None = None
            done: set[int] = set()
            rebase: dict[int, int] = {}  # per stream: shift added at discontinuities
            next_dts: dict[int, tuple[int, int]] = {}  # per stream: last dts, expected next

            def write(packet: Any) -> None:
                nonlocal written
                assert offset is not None
                index = packet.stream.index
                shift = int(offset / packet.time_base) + rebase.get(index, 0)
                packet.pts -= shift
                packet.dts -= shift
                if index in next_dts:
                    last, expected = next_dts[index]
                    if packet.dts <= last or packet.dts > expected + _JUMP / packet.time_base:
                        # a discontinuity (#EXT-X-DISCONTINUITY, an encoder restart): the
                        # timestamps jump; continue this stream where it stopped
                        jump = packet.dts - expected
                        rebase[index] = rebase.get(index, 0) + jump
                        packet.pts -= jump
                        packet.dts -= jump
                next_dts[index] = (packet.dts, packet.dts + max(packet.duration or 0, 1))
                start = float(packet.pts * packet.time_base)
                if duration is not None and start >= duration:
                    done.add(packet.stream.index)
                    return
                kind = packet.stream.type
                packet.stream = outputs[packet.stream.index]
                output.mux(packet)
                counts[kind] += 1
                written = max(written, start + float((packet.duration or 0) * packet.time_base))

            for packet in source.demux(inputs):
                if stop.is_set() or len(done) == len(inputs):
                    break
                if packet.dts is None or packet.pts is None:
                    continue
                if offset is not None:
                    write(packet)
                    continue
                pending.append(packet)
                if len({p.stream.index for p in pending}) < len(inputs) and len(pending) < 500:
                    continue
                offset = min(p.dts * p.time_base for p in pending)
                for item in pending:
                    write(item)
                pending = []
            if pending:
                offset = min(p.dts * p.time_base for p in pending)
                for item in pending:
                    write(item)
        finally:
            output.close()
    finally:
        source.close()
    return RecordingInfo(
        path=path,
        duration=written if duration is None else min(written, duration),
        video_frames=counts["video"],
        audio_frames=counts["audio"],
        video_dropped=0,
        audio_dropped=0,
    )
