"""Pydantic models of the HeyGen Streaming API v1 wire format.

Their fields and constraints come from the wire table (``wire``, ``enums``), which the
pydantic-free path reads too; tests/unit/test_plain_wire.py proves the two agree.

Requests keep unknown fields (they pass through to the service); responses accept unknown
fields (the service adds them) and keep them as attributes, and tolerate every shape captured
in ``tests/wire/fixtures/v1``: ``ice_servers`` as URL strings (2024) or null (2025), null lists,
``credentialType`` on ICE servers.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from .enums import Emotion, Quality, TaskMode, TaskType, VideoEncoding
from .wire import IDLE_TIMEOUT, ice_server_list

__all__ = [
    "Emotion",
    "Envelope",
    "IceCandidate",
    "IceRequest",
    "IceServer",
    "NewSessionInfo",
    "NewSessionRequest",
    "Quality",
    "SessionDescription",
    "SessionIdRequest",
    "SessionList",
    "SessionSummary",
    "StartSessionRequest",
    "TaskInfo",
    "TaskMode",
    "TaskRequest",
    "TaskType",
    "TokenInfo",
    "VideoEncoding",
    "VoiceSettings",
]


class _Request(BaseModel):
    model_config = ConfigDict(
        extra="allow", populate_by_name=True, use_enum_values=True, defer_build=True
    )

    def to_json(self) -> dict[str, Any]:
        """The JSON body: aliases, no ``None`` values."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


class VoiceSettings(_Request):
    """``voice`` of ``streaming.new``."""

    voice_id: str | None = None
    rate: float | None = Field(default=None, ge=0.5, le=1.5)
    emotion: Emotion | None = None


class SessionDescription(_Request):
    """An SDP offer or answer: ``{"type": "offer", "sdp": "v=0..."}``."""

    type: str
    sdp: str


class IceServer(_Response):
    """An RTCIceServer-like dict."""

    urls: str | list[str]
    username: str | None = None
    credential: str | None = None


class IceCandidate(_Request):
    """A browser-style ``RTCIceCandidate.toJSON()``; an empty ``candidate`` ends the list."""

    candidate: str = ""
    sdp_mid: str | None = Field(default=None, alias="sdpMid")
    sdp_mline_index: int | None = Field(default=None, alias="sdpMLineIndex")
    username_fragment: str | None = Field(default=None, alias="usernameFragment")


class NewSessionRequest(_Request):
    """Body of ``streaming.new``."""

    quality: Quality | None = None
    avatar_name: str | None = None
    avatar_id: str | None = None
    voice: VoiceSettings | None = None
    video_encoding: VideoEncoding | None = None
    knowledge_base: str | None = None
    knowledge_base_id: str | None = None
    version: str | None = None
    disable_idle_timeout: bool | None = None
    activity_idle_timeout: int | None = Field(default=None, ge=IDLE_TIMEOUT[0], le=IDLE_TIMEOUT[1])


class StartSessionRequest(_Request):
    """Body of ``streaming.start``."""

    session_id: str
    sdp: SessionDescription


class IceRequest(_Request):
    """Body of ``streaming.ice``."""

    session_id: str
    candidate: IceCandidate


class TaskRequest(_Request):
    """Body of ``streaming.task``."""

    session_id: str
    text: str
    task_type: TaskType = TaskType.REPEAT
    task_mode: TaskMode | None = None


class SessionIdRequest(_Request):
    """Body of ``streaming.stop``, ``.interrupt`` and ``.keep_alive``."""

    session_id: str


class Envelope(_Response):
    """``{"code": 100, "message": "success", "data": {...}}``; errors may carry ``error``."""

    code: int | str | None = None
    message: str | None = None
    data: Any = None
    error: Any = None


def _null_list(value: Any) -> Any:
    return [] if value is None else value


IceServerList = Annotated[list[IceServer] | None, BeforeValidator(ice_server_list)]


class NewSessionInfo(_Response):
    """``data`` of ``streaming.new``. Any field may be null on the real service."""

    session_id: str
    sdp: SessionDescription | None = None
    access_token: str | None = Field(default=None, repr=False)
    url: str | None = None
    realtime_endpoint: str | None = Field(default=None, repr=False)
    ice_servers: IceServerList = None
    ice_servers2: IceServerList = None
    is_paid: bool | None = None
    session_duration_limit: int | None = None


class TaskInfo(_Response):
    """``data`` of ``streaming.task``; ``task_id`` is empty when the service sent none."""

    task_id: str = ""
    duration_ms: float | None = None


class SessionSummary(_Response):
    """One entry of ``streaming.list``."""

    session_id: str
    status: str | None = None
    created_at: float | None = None


class SessionList(_Response):
    """``data`` of ``streaming.list``."""

    sessions: Annotated[list[SessionSummary], BeforeValidator(_null_list)] = Field(
        default_factory=list
    )


class TokenInfo(_Response):
    """``data`` of ``streaming.create_token``."""

    token: str = Field(repr=False)
