"""The API versions the emulator serves: one `routes.ApiVersion` subclass per module.

To serve another version, write its module (see `heygen_streaming.emulator.routes`) and add
its class here; nothing else in the core changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .liveavatar import LiveAvatarApi
from .routes import ApiVersion
from .v1 import V1Api
from .v3 import V3Api

if TYPE_CHECKING:
    from .app import EmulatorApp

__all__ = ["API_VERSIONS"]

API_VERSIONS: tuple[Callable[[EmulatorApp], ApiVersion], ...] = (V1Api, V3Api, LiveAvatarApi)
