"""LiveKit-style ids: a type prefix (``RM_``, ``PA_``, ``TR_``) and 12 base-62 characters.

The official clients parse these prefixes (the Rust SDK unwraps a parse of ``PA_``/``TR_``),
so every id the room server hands out carries one.
"""

from __future__ import annotations

import secrets
import string

__all__ = ["new_id"]

_ALPHABET = string.digits + string.ascii_letters


def new_id(prefix: str) -> str:
    """``prefix`` + 12 random base-62 characters, e.g. ``new_id("PA_")`` → ``PA_3kQ9...``."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(12))
