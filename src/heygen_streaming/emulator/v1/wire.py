"""HeyGen Streaming API v1 wire definitions, owned by the emulator: codes, bodies, requests.

Taken from the captures in the wire corpus (``tests/wire/fixtures/v1``), not from the SDK,
so a wire bug in the SDK is not mirrored here. Each code says where it comes from:

========  ======  =========================================  ==============================
code      HTTP    message                                    source
========  ======  =========================================  ==============================
100       200     ``success``                                captured (start, ice, new)
400112    401     ``Unauthorized``                           captured (task, HTTP 401)
400006    400     ``Invalid params``                         captured (start without sdp);
                                                             HTTP status inferred
400       400     ``peer start failed,please check the       captured (start, bad answer);
                  answer``                                   HTTP status inferred
10013     400     ``avatar not found``                       captured (new); status inferred
10001-3,5 404     ``session state wrong: <state>``           10005 captured; 10001-10003
                                                             unverified; status inferred
10006     404     ``Session not found``                      unverified (third-party SDK)
10007     400     ``Concurrent limit reached, ...``          code unverified; text and
                                                             HTTP 400 reported
400123    429     ``Exceed rate limit``                      unverified (third-party SDK)
400599    403     ``Your account doesn't have API access``   captured (voice.list)
500       500     ``Internal error``                         invented (never captured)
========  ======  =========================================  ==============================
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "Code",
    "IceRequest",
    "NewRequest",
    "SessionIdRequest",
    "StartRequest",
    "TaskRequest",
    "error_body",
    "success",
    "token_body",
]


class Code:
    """v1 envelope ``code`` values (see the module table for their sources)."""

    SUCCESS = 100
    UNAUTHORIZED = 400112
    INVALID_PARAMS = 400006
    PEER_START_FAILED = 400
    AVATAR_NOT_FOUND = 10013
    STATE_NEW = 10001
    STATE_CONNECTING = 10002
    STATE_CONNECTED = 10003
    STATE_CLOSED = 10005
    SESSION_NOT_FOUND = 10006
    CONCURRENT_LIMIT = 10007
    RATE_LIMIT = 400123
    NO_API_ACCESS = 400599
    INTERNAL = 500


MESSAGES = {
    Code.UNAUTHORIZED: "Unauthorized",
    Code.INVALID_PARAMS: "Invalid params",
    Code.PEER_START_FAILED: "peer start failed,please check the answer",
    Code.AVATAR_NOT_FOUND: "avatar not found",
    Code.SESSION_NOT_FOUND: "Session not found",
    Code.CONCURRENT_LIMIT: (
        "Concurrent limit reached, please make sure you have closed other testing sessions"
    ),
    Code.RATE_LIMIT: "Exceed rate limit",
    Code.NO_API_ACCESS: "Your account doesn't have API access",
    Code.INTERNAL: "Internal error",
}
STATE_CODES = {
    "new": Code.STATE_NEW,
    "connecting": Code.STATE_CONNECTING,
    "connected": Code.STATE_CONNECTED,
    "closed": Code.STATE_CLOSED,
}


def success(data: Any = None) -> dict[str, Any]:
    """The success envelope, key order as captured: ``{"code", "data", "message"}``."""
    return {"code": Code.SUCCESS, "data": data, "message": "success"}


def token_body(token: str) -> dict[str, Any]:
    """``streaming.create_token``'s own envelope, as captured: ``{"error", "data"}``."""
    return {"error": None, "data": {"token": token}}


def error_body(code: int | str, message: str) -> dict[str, Any]:
    """An error envelope, as captured: ``{"code", "message"}`` (no ``data``)."""
    return {"code": code, "message": message}


class _Request(BaseModel):
    """Real clients send fields the server ignores (e.g. ``"interrupt": true``): allowed."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Voice(_Request):
    """``voice``: every field optional; ``emotion`` capitalised (1.x) or lowercase (2.x)."""

    voice_id: str | None = None
    rate: float | None = Field(default=None, ge=0.5, le=1.5)
    emotion: str | None = None

    @field_validator("emotion")
    @classmethod
    def _emotion(cls, value: str | None) -> str | None:
        allowed = ("excited", "serious", "friendly", "soothing", "broadcaster")
        if value is not None and value.lower() not in allowed:
            raise ValueError("unknown emotion")
        return value


class NewRequest(_Request):
    """``streaming.new``; HeyGen's own SDKs send ``avatar_name``, the docs ``avatar_id``;
    empty strings (seen in real requests) mean "default"."""

    quality: Literal["low", "medium", "high", ""] | None = None
    avatar_name: str | None = None
    avatar_id: str | None = None
    voice: Voice | None = None
    video_encoding: Literal["VP8", "H264"] | None = None
    knowledge_base: str | None = None
    knowledge_base_id: str | None = None
    version: str | None = None
    disable_idle_timeout: bool | None = None
    activity_idle_timeout: int | None = None


class SessionDescription(_Request):
    """``{"type": "answer", "sdp": "v=0..."}`` (a browser's ``localDescription``)."""

    type: str
    sdp: str


class SessionIdRequest(_Request):
    """Body of stop, interrupt and keep_alive."""

    session_id: str


class StartRequest(SessionIdRequest):
    """``streaming.start``: the answer (``sdp`` absent: ``400006 Invalid params``)."""

    sdp: SessionDescription


class Candidate(_Request):
    """``RTCIceCandidate.toJSON()``; ``sdpMLineIndex`` sometimes a string (Postman)."""

    candidate: str = ""
    sdp_mid: str | None = Field(default=None, alias="sdpMid")
    sdp_mline_index: int | str | None = Field(default=None, alias="sdpMLineIndex")
    username_fragment: str | None = Field(default=None, alias="usernameFragment")


class IceRequest(SessionIdRequest):
    """``streaming.ice``: one trickled client candidate."""

    candidate: Candidate


class TaskRequest(SessionIdRequest):
    """``streaming.task``; ``task_type`` ``talk`` (raw demo, SDK 2.x) is treated as chat."""

    text: str
    task_type: Literal["repeat", "chat", "talk"] = "repeat"
    task_mode: Literal["sync", "async"] | None = None
