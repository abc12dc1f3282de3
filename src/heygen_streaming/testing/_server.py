"""`EmulatorServer`: an emulator in a background thread with its own event loop."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._client import StreamingClient
    from ..emulator import Emulator
    from ..emulator.faults import FaultKind

__all__ = ["EmulatorServer", "RemoteFaults"]

INSTALL_HINT = "pip install 'heygen-streaming[emulator]'"


class EmulatorServer:
    """An offline HeyGen emulator serving on 127.0.0.1 from a background thread.

    Args:
        api_key: the key it accepts (`client` uses it).
        timeout: seconds allowed for starting, stopping and each `call`.
        **options: further `heygen_streaming.emulator.Emulator` arguments
            (``max_sessions``, ``idle_timeout``, ``tts_latency``, ...).

    Use it as a context manager (``with EmulatorServer() as emu: ...``) or call `start` and
    `close`. Every method is safe to call from any thread and any event loop.
    """

    def __init__(self, api_key: str = "test-key", *, timeout: float = 30.0, **options: Any):
        self.api_key = api_key
        self.timeout = timeout
        self.options = options
        self.faults = RemoteFaults(self)
        self._emulator: Emulator | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"EmulatorServer(base_url={self.base_url!r})"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` once started."""
        return self._emulator.base_url if self._emulator is not None else ""

    def start(self) -> None:
        """Start the emulator thread; return once it accepts requests."""
        if self._thread is not None:
            return
        try:
            import aiohttp  # noqa: F401  (fail here, with the hint, not in the thread)
        except ImportError as exc:
            raise RuntimeError(f"the emulator is not installed: {INSTALL_HINT}") from exc
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._serve()), name="heygen-emulator", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(self.timeout):
            raise TimeoutError(f"the emulator did not start within {self.timeout:g} s")
        if self._error is not None:
            raise RuntimeError(f"the emulator failed to start: {self._error!r}") from self._error

    async def _serve(self) -> None:
        from ..emulator import Emulator

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            async with Emulator(api_key=self.api_key, port=0, **self.options) as emu:
                self._emulator = emu
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:
            self._error = exc
            raise
        finally:
            self._ready.set()

    def close(self) -> None:
        """Close every session and stop serving (idempotent)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        thread.join(self.timeout)

    def __enter__(self) -> EmulatorServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def client(self, **kwargs: Any) -> StreamingClient:
        """A new `StreamingClient` for this emulator (``async with`` it, or ``aclose()`` it).

        Keyword arguments go to `StreamingClient` (``timeout``, ``max_retries``, ...).
        """
        from .._client import StreamingClient

        kwargs.setdefault("api_key", self.api_key)
        return StreamingClient(base_url=self.base_url, **kwargs)

    def call(self, fn: Callable[[Emulator], Any]) -> Any:
        """Run ``fn(emulator)`` on the emulator's loop and return its (awaited) result."""
        loop, emulator = self._loop, self._emulator
        if loop is None or emulator is None or self._thread is None:
            raise RuntimeError("the emulator is not running")
        if threading.current_thread() is self._thread:
            raise RuntimeError("EmulatorServer.call() from the emulator's own thread")

        async def run() -> Any:
            result = fn(emulator)
            if inspect.isawaitable(result):
                return await result
            return result

        return asyncio.run_coroutine_threadsafe(run(), loop).result(self.timeout)

    def reset(self) -> int:
        """End every session and stream (every API, every key), forget tokens and clear
        faults; returns how many sessions and streams were ended."""
        return int(self.call(lambda emu: emu.reset()))

    def session_ids(self) -> list[str]:
        """Ids of the live sessions (every key), oldest first."""
        ids: list[str] = self.call(lambda emu: [s.session_id for s in emu.sessions])
        return ids


class RemoteFaults:
    """Fault injection (`heygen_streaming.emulator.Faults`) of an `EmulatorServer`.

    Endpoints are named without the ``streaming.`` prefix (``"new"``, ``"task"``, ``"*"``).
    """

    def __init__(self, server: EmulatorServer) -> None:
        self._server = server

    def fail(
        self,
        endpoint: str,
        status: int | None = None,
        *,
        times: int = 1,
        kind: FaultKind = "error",
        retry_after: float | None = None,
        after: bool = False,
    ) -> None:
        """Make the next ``times`` calls of ``endpoint`` fail (``kind``: ``"error"``,
        ``"garbage"``, ``"bad_envelope"``, ``"error_code"``, ``"disconnect"``; without a
        ``status``: 500, or 200 for the envelope kinds). An unknown endpoint name raises
        ``ValueError`` listing the valid ones (docs/testing.md has the table)."""
        self._server.call(
            lambda emu: emu.faults.fail(
                endpoint, status, times=times, kind=kind, retry_after=retry_after, after=after
            )
        )

    def delay(self, endpoint: str, seconds: float, *, times: int | None = None) -> None:
        """Delay the next ``times`` calls (all when ``None``) of ``endpoint``."""
        self._server.call(lambda emu: emu.faults.delay(endpoint, seconds, times=times))

    def freeze_media(self, session_id: str | None = None) -> int:
        """Stop sending media for one session (or all) without closing; returns how many."""
        return int(self._server.call(lambda emu: emu.faults.freeze_media(session_id)))

    def unfreeze_media(self, session_id: str | None = None) -> int:
        """Resume media for one session (or all)."""
        return int(self._server.call(lambda emu: emu.faults.unfreeze_media(session_id)))

    def drop_all(self) -> int:
        """Close every peer abruptly and forget every session; returns how many."""
        return int(self._server.call(lambda emu: emu.faults.drop_all()))

    def drop_room_media(self, session_id: str | None = None, seconds: float = 5.0) -> int:
        """Stop the avatar's media in a LiveAvatar session's room (all when ``None``)."""
        return int(self._server.call(lambda emu: emu.faults.drop_room_media(session_id, seconds)))

    def close_room(self, session_id: str | None = None, reason: str = "SERVER_SHUTDOWN") -> int:
        """Server-initiated leave: close a LiveAvatar session's room (all when ``None``)."""
        return int(self._server.call(lambda emu: emu.faults.close_room(session_id, reason)))

    def refuse_room_joins(self, session_id: str | None = None, status: int = 503) -> None:
        """Refuse joins to a LiveAvatar session's room (every room when ``None``)."""
        self._server.call(lambda emu: emu.faults.refuse_room_joins(session_id, status))

    def allow_room_joins(self, session_id: str | None = None) -> None:
        """Undo `refuse_room_joins` (``None``: every refusal)."""
        self._server.call(lambda emu: emu.faults.allow_room_joins(session_id))

    def drop_lite_socket(self, session_id: str | None = None) -> int:
        """Close LiveAvatar LITE sockets abruptly; the sessions live on."""
        return int(self._server.call(lambda emu: emu.faults.drop_lite_socket(session_id)))

    def clear(self) -> None:
        """Remove pending failures and delays, unfreeze media, allow room joins."""
        self._server.call(lambda emu: emu.faults.clear())
