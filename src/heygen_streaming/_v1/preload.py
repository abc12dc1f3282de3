"""Start-up tuning, in one place: heavy imports a fresh process makes while the service works.

A process's first session imports aiortc and initialises OpenSSL (100 ms or more); its
first task builds a pydantic `TaskInfo` (pydantic and the models, about 50 ms). Done before
the request, either would delay it; so the request goes out first, and the import runs on
the loop once the request body is on the wire (httpcore's trace, `start_request`), while
the service works. Not in a thread: an import is Python code holding the GIL, and a thread
would compete with the request itself. Later calls find the modules loaded and skip this.

The other start-up savings live with what they defer: the lazy public names (the
package's ``__init__``) and the deferred TLS context (``_http.tls``).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Coroutine
from importlib import import_module
from typing import Any, TypeVar

from .._http.trace import start_request

__all__ = ["MODELS", "aiortc_loader", "models_loader", "send_then_load"]

_T = TypeVar("_T")

MODELS = "heygen_streaming._v1.models"
"""The pydantic models of v1 (`TaskInfo`...)."""

Loader = Callable[[], None]


def aiortc_loader() -> Loader | None:
    """What a session's connect loads while ``streaming.new`` is answered; None if loaded."""
    return None if "aiortc" in sys.modules else _load_aiortc


def models_loader() -> Loader | None:
    """What ``send_task`` loads while the task is answered; None if loaded."""
    return None if MODELS in sys.modules else _load_models


def send_then_load(
    call: Coroutine[Any, Any, _T], load: Loader | None
) -> tuple[asyncio.Task[_T], Awaitable[None]]:
    """``call`` (an endpoint call) as a task, and an awaitable that runs ``load`` once the
    request is on the wire (at once without a ``load``; not at all when the call failed
    before: its error is raised at once instead)."""
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


def _load_aiortc() -> None:
    import aiortc

    aiortc.RTCCertificate.generateCertificate()  # the first one initialises OpenSSL


def _load_models() -> None:
    import_module(MODELS)
