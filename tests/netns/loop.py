"""`NetnsLoop`: an asyncio event loop in a thread inside a network namespace.

Linux keeps the network namespace per thread: a thread that calls ``setns`` creates its
sockets there (and so do the threads it starts, e.g. the loop's executor), while the rest
of the process stays where it was.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["NetnsLoop", "enter_netns"]

T = TypeVar("T")
CLONE_NEWNET = 0x40000000


def enter_netns(ns: str) -> None:
    """Move the calling thread into network namespace ``ns`` (``ip netns`` name)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns({ns}): {os.strerror(errno)}")
    finally:
        os.close(fd)


class NetnsLoop:
    """An event loop running in its own thread, inside ``ns`` (``None``: where we are).

    ``run(coro)`` (from a thread other than the loop's) and ``await arun(coro)`` (from
    another event loop) run a coroutine there, with a timeout; ``close()`` cancels what is
    left and joins the thread. Usable as a context manager.
    """

    def __init__(self, ns: str | None, *, name: str = "netns-loop") -> None:
        self.ns = ns
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            try:
                if ns is not None:
                    enter_netns(ns)
            except BaseException as exc:
                failure.append(exc)
                started.set()
                return
            asyncio.set_event_loop(self.loop)
            started.set()
            try:
                self.loop.run_forever()
            finally:
                self.loop.run_until_complete(self.loop.shutdown_default_executor())
                self.loop.close()

        self.thread = threading.Thread(target=main, name=name, daemon=True)
        self.thread.start()
        started.wait(10)
        if failure:
            raise failure[0]

    def _submit(self, coro: Coroutine[Any, Any, T], timeout: float) -> concurrent.futures.Future[T]:
        async def bounded() -> T:
            return await asyncio.wait_for(coro, timeout)

        return asyncio.run_coroutine_threadsafe(bounded(), self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``coro`` on the loop and return its result (blocks this thread)."""
        return self._submit(coro, timeout).result(timeout + 5)

    async def arun(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:  # noqa: ASYNC109
        """Run ``coro`` on the loop, awaited from another event loop."""
        return await asyncio.wrap_future(self._submit(coro, timeout))

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """Call a plain function on the loop's thread (e.g. to read state it owns)."""

        async def call() -> T:
            return function(*args)

        return self.run(call(), 10.0)

    def close(self, timeout: float = 15.0) -> None:
        """Cancel every task left on the loop, stop it, join the thread."""
        if not self.thread.is_alive():
            return

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=timeout) if tasks else None

        try:
            asyncio.run_coroutine_threadsafe(cancel_all(), self.loop).result(timeout + 5)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout)

    def __enter__(self) -> NetnsLoop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
