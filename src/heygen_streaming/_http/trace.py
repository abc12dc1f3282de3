"""Knowing when a request is on the wire: httpcore's ``trace`` hook, per task context.

`start_request` runs an endpoint call as a task and says when its request body has been
written, so work that would hold the loop (a heavy import) can run while the service works
instead of delaying the request; `send_then_load` is that pattern for start-up tuning (each
API's ``preload`` module says what it loads during which call: ``_v1.preload``,
``_liveavatar.preload``). `Transport.open` passes the current context's `request_trace` to
every request it sends.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["Loader", "request_trace", "send_then_load", "start_request"]

_T = TypeVar("_T")

Loader = Callable[[], None]
"""Work to run once a request is on the wire (an import); see `send_then_load`."""

Trace = Callable[[str, dict[str, Any]], Awaitable[None]]
request_trace: contextvars.ContextVar[Trace | None] = contextvars.ContextVar(
    "heygen_streaming_request_trace", default=None
)
"""An httpcore ``trace`` callback for the requests sent from the current context
(`start_request` sets it to learn when a request is on the wire)."""


def start_request(call: Coroutine[Any, Any, _T]) -> tuple[asyncio.Task[_T], Awaitable[None]]:
    """``call`` (an endpoint call) as a task, and an awaitable that ends once its request
    body is written or the task is done, whichever comes first.

    Work that would hold the loop (a heavy import) waits for the second, so it runs while
    the service works instead of delaying the request.
    """
    sent = asyncio.Event()

    async def trace(event: str, info: dict[str, Any]) -> None:
        if event.endswith("send_request_body.complete"):
            sent.set()

    token = request_trace.set(trace)
    try:
        task = asyncio.ensure_future(call)
    finally:
        request_trace.reset(token)

    async def written() -> None:
        waiter = asyncio.ensure_future(sent.wait())
        try:
            await asyncio.wait([waiter, task], return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()

    return task, written()


def send_then_load(
    call: Coroutine[Any, Any, _T], load: Loader | None
) -> tuple[asyncio.Task[_T], Awaitable[None]]:
    """``call`` (an endpoint call) as a task, and an awaitable that runs ``load`` once the
    request is on the wire (at once without a ``load``; not at all when the call failed
    before: its error is raised at once instead).

    Not in a thread: an import is Python code holding the GIL, and a thread would compete
    with the request itself.
    """
    if load is None:
        task: asyncio.Task[_T] = asyncio.ensure_future(call)
        written = None
    else:
        task, written = start_request(call)

    async def loading() -> None:
        if load is None or written is None:
            return
        await written
        if not task.done() or (not task.cancelled() and task.exception() is None):
            load()

    return task, loading()
