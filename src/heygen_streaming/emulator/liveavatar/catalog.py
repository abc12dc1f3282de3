"""The emulator's LiveAvatar catalogue: public avatars and voices with stable uuid ids.

Every avatar is the emulator's one synthetic avatar (`heygen_streaming.emulator.avatar`),
drawn from its own name (so each looks a little different); every voice is the emulator's
voice at its own pitch. Ids are uuid5 values, the same in every run.
"""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass
from typing import Any

__all__ = ["AVATARS", "VOICES", "Avatar", "Voice", "avatar_by_id", "voice_by_id"]

_NAMESPACE = uuid.UUID("6f1c2d3e-8a7b-4c5d-9e0f-112233445566")
_CREATED = "2026-01-01T00:00:00Z"


@dataclass(frozen=True)
class Voice:
    """One voice: its id, name and the pitch factor the emulator speaks it with."""

    id: str
    name: str
    language: str
    gender: str

    @property
    def pitch(self) -> float:
        """Pitch factor of the emulator's voice for this id."""
        return 0.8 + (zlib.crc32(self.id.encode()) % 64) / 100.0

    def body(self) -> dict[str, Any]:
        """The voice as ``GET /v1/voices`` lists it."""
        return {
            "id": self.id,
            "name": self.name,
            "language": self.language,
            "gender": self.gender,
            "provider": "emulator",
            "is_public": True,
        }


@dataclass(frozen=True)
class Avatar:
    """One public avatar: its id, name, renderer name and default voice."""

    id: str
    name: str
    render_name: str
    voice: Voice

    def body(self) -> dict[str, Any]:
        """The avatar as ``GET /v1/avatars/public`` lists it."""
        return {
            "id": self.id,
            "name": self.name,
            "created_at": _CREATED,
            "updated_at": _CREATED,
            "error_message": None,
            "space_id": None,
            "type": "VIDEO",
            "status": "ACTIVE",
            "preview_url": None,
            "is_expired": False,
            "default_voice": {"id": self.voice.id, "name": self.voice.name},
            "is_1080p": False,
        }


def _id(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, name))


VOICES: tuple[Voice, ...] = tuple(
    Voice(_id(f"voice/{name}"), name, "en", gender)
    for name, gender in (("Emulator", "neutral"), ("Ada", "female"), ("Alan", "male"))
)
AVATARS: tuple[Avatar, ...] = tuple(
    Avatar(_id(f"avatar/{render}"), name, render, voice)
    for (name, render), voice in zip(
        (("Emulator", "emulator"), ("Ada", "ada"), ("Alan", "alan")), VOICES, strict=True
    )
)


def avatar_by_id(avatar_id: str) -> Avatar | None:
    """The public avatar with ``avatar_id``, or None."""
    return next((a for a in AVATARS if a.id == avatar_id), None)


def voice_by_id(voice_id: str) -> Voice | None:
    """The voice with ``voice_id``, or None."""
    return next((v for v in VOICES if v.id == voice_id), None)
