"""Leak checks (threads, asyncio tasks, fds) and the suite's shared constants."""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time
from dataclasses import dataclass

import psutil

API_KEY = "reliability-key-9f8e7d"


def _threads() -> set[int]:
    # The loop's default executor keeps idle workers ("asyncio_N") until the loop closes.
    return {
        t.ident or 0
        for t in threading.enumerate()
        if t.is_alive() and not t.name.startswith("asyncio_")
    }


def open_fds() -> int:
    return int(psutil.Process(os.getpid()).num_fds())


@dataclass
class Snapshot:
    """Threads, fds and asyncio tasks before an operation."""

    threads: set[int]
    fds: int
    tasks: int

    @classmethod
    def take(cls) -> Snapshot:
        return cls(_threads(), open_fds(), len(asyncio.all_tasks()))

    async def assert_no_leaks(self, *, within: float = 10.0, fd_slack: int = 0) -> None:
        """Wait (bounded) until threads/tasks/fds are back to the snapshot, else fail."""
        deadline = time.monotonic() + within
        for thread in threading.enumerate():
            if (thread.ident or 0) not in self.threads and not thread.name.startswith("asyncio_"):
                # Decoder threads end once their peer is closed: join them, bounded.
                await asyncio.to_thread(thread.join, max(0.0, deadline - time.monotonic()))
        while True:
            gc.collect()
            extra = _threads() - self.threads
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            fds = open_fds()
            if not extra and len(tasks) <= self.tasks - 1 and fds <= self.fds + fd_slack:
                return
            if time.monotonic() > deadline:
                names = [t.name for t in threading.enumerate() if (t.ident or 0) in extra]
                raise AssertionError(
                    f"leaked threads {names}, tasks {[t.get_coro() for t in tasks]}, "
                    f"fds {fds} (was {self.fds})"
                )
            # Sockets and tasks of a closed peer are released by callbacks still queued.
            await asyncio.sleep(0.05)
