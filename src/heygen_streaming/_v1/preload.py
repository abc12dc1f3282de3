"""Start-up tuning, in one place: heavy imports a fresh process makes while the service works.

A process's first session imports aiortc and initialises OpenSSL (100 ms or more); its
first task builds a pydantic `TaskInfo` (pydantic and the models, about 50 ms). Done before
the request, either would delay it; so the request goes out first, and the import runs on
the loop once the request body is on the wire (``_http.trace.send_then_load``), while the
service works. Later calls find the modules loaded and skip this.

The other start-up savings live with what they defer: the lazy public names (the
package's ``__init__``) and the deferred TLS context (``_http.tls``).
"""

from __future__ import annotations

import sys
from importlib import import_module

from .._http.trace import Loader

__all__ = ["MODELS", "aiortc_loader", "models_loader"]

MODELS = "heygen_streaming._v1.models"
"""The pydantic models of v1 (`TaskInfo`...)."""


def aiortc_loader() -> Loader | None:
    """What a session's connect loads while ``streaming.new`` is answered; None if loaded."""
    return None if "aiortc" in sys.modules else _load_aiortc


def models_loader() -> Loader | None:
    """What ``send_task`` loads while the task is answered; None if loaded."""
    return None if MODELS in sys.modules else _load_models


def _load_aiortc() -> None:
    import aiortc

    aiortc.RTCCertificate.generateCertificate()  # the first one initialises OpenSSL


def _load_models() -> None:
    import_module(MODELS)
