"""The signalling wire, without sockets: LiveKit's ``SignalRequest``/``SignalResponse``
protobufs (``livekit-protocol``), the ``/rtc/v1`` join request, trickle candidates.

Everything a client sends is decoded here under a size cap, and every failure is a
`ValueError` (or `JoinRefused` with LiveKit's HTTP status for the join request), so the
connection code only ever sees well-formed messages.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from livekit.protocol import models, rtc

from .tokens import JoinRefused

__all__ = [
    "MAX_CANDIDATE_INIT_BYTES",
    "MAX_JOIN_REQUEST_BYTES",
    "MAX_SIGNAL_BYTES",
    "PING_INTERVAL",
    "PING_TIMEOUT",
    "ConnectOptions",
    "decode_join_request",
    "decode_request",
    "disconnect_reason",
    "encode_response",
    "leave",
    "parse_candidate_init",
    "v0_options",
]

MAX_SIGNAL_BYTES = 2 << 20
"""Largest signalling frame accepted (LiveKit's ``signal_message_size_limit``, 2 MiB)."""
MAX_JOIN_REQUEST_BYTES = 1 << 20
"""Largest (decompressed) ``/rtc/v1`` join request (LiveKit: ``http.DefaultMaxHeaderBytes``)."""
MAX_CANDIDATE_INIT_BYTES = 4096
"""Largest trickle ``candidateInit`` JSON (a real one is about 200 bytes)."""
PING_INTERVAL = 5
PING_TIMEOUT = 15
SERVER_VERSION = "1.9.0"
SERVER_PROTOCOL = 16


@dataclass(frozen=True)
class ConnectOptions:
    """How a client connects: the signalling path and the options it sent."""

    single_pc: bool
    auto_subscribe: bool = True
    reconnect: bool = False
    protocol: int = 0
    sdk: str = ""
    publisher_offer: str | None = None
    """The first publisher offer embedded in a ``/rtc/v1`` join request."""


def _truthy(value: str | None) -> bool:
    return value in ("1", "true")


def v0_options(query: Mapping[str, str]) -> ConnectOptions:
    """The options of a ``/rtc`` (two peer connections) URL query."""
    try:
        protocol = int(query.get("protocol", "0") or 0)
    except ValueError:
        protocol = 0
    auto = query.get("auto_subscribe")
    return ConnectOptions(
        single_pc=False,
        auto_subscribe=True if auto in (None, "") else _truthy(auto),
        reconnect=_truthy(query.get("reconnect")),
        protocol=protocol,
        sdk=str(query.get("sdk", ""))[:32],
    )


def decode_join_request(param: str) -> ConnectOptions:
    """The options of a ``/rtc/v1`` URL's ``join_request`` (urlsafe base64 of a
    ``WrappedJoinRequest``, its ``JoinRequest`` gzip-compressed or not).

    Raises `JoinRefused` 400 with LiveKit's text, as its server does.
    """
    if not param:
        raise JoinRefused(400, "join_request is required")
    if len(param) > 2 * MAX_JOIN_REQUEST_BYTES:
        raise JoinRefused(400, "join request too large")
    try:
        raw = base64.b64decode(param + "=" * (-len(param) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise JoinRefused(400, "cannot base64 decode wrapped join request") from None
    wrapped = rtc.WrappedJoinRequest()
    try:
        wrapped.ParseFromString(raw)
    except DecodeError:
        raise JoinRefused(400, "cannot unmarshal wrapped join request") from None
    body = wrapped.join_request
    if wrapped.compression == rtc.WrappedJoinRequest.GZIP:
        body = _gunzip(body, MAX_JOIN_REQUEST_BYTES)
    elif len(body) > MAX_JOIN_REQUEST_BYTES:
        raise JoinRefused(400, "join request too large")
    request = rtc.JoinRequest()
    try:
        request.ParseFromString(body)
    except DecodeError:
        raise JoinRefused(400, "cannot unmarshal join request") from None
    offer = request.publisher_offer.sdp if request.HasField("publisher_offer") else None
    return ConnectOptions(
        single_pc=True,
        auto_subscribe=request.connection_settings.auto_subscribe
        if request.HasField("connection_settings")
        else True,
        reconnect=request.reconnect,
        protocol=request.client_info.protocol,
        sdk=models.ClientInfo.SDK.Name(request.client_info.sdk)
        if request.client_info.sdk in models.ClientInfo.SDK.values()
        else "",
        publisher_offer=offer or None,
    )


def _gunzip(data: bytes, limit: int) -> bytes:
    """Decompress at most ``limit`` bytes (a gzip bomb stops at the cap)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error:
        raise JoinRefused(400, "cannot read decompressed join request") from None
    if len(out) > limit:
        raise JoinRefused(400, "join request too large")
    return out


def decode_request(frame: bytes | str) -> rtc.SignalRequest:
    """A client's signalling frame: binary protobuf, or protobuf JSON in a text frame."""
    request = rtc.SignalRequest()
    if len(frame) > MAX_SIGNAL_BYTES:
        raise ValueError("signal message too large")
    try:
        if isinstance(frame, str):
            json_format.Parse(frame, request, ignore_unknown_fields=True)
        else:
            request.ParseFromString(frame)
    except (DecodeError, json_format.ParseError, RecursionError, ValueError) as exc:
        raise ValueError(f"undecodable signal message: {type(exc).__name__}") from None
    return request


def encode_response(response: rtc.SignalResponse, *, as_json: bool = False) -> bytes | str:
    """A response in the client's format (binary unless it spoke JSON)."""
    if as_json:
        return json_format.MessageToJson(response, indent=None)
    return response.SerializeToString()


def disconnect_reason(name: str) -> int:
    """The ``DisconnectReason`` value named ``name`` (``"ROOM_DELETED"``); ValueError if none."""
    try:
        return models.DisconnectReason.Value(name)
    except ValueError:
        known = ", ".join(models.DisconnectReason.keys())
        raise ValueError(f"unknown disconnect reason {name!r} (one of {known})") from None


def leave(reason: str, *, reconnect: bool = False) -> rtc.SignalResponse:
    """A server-initiated ``leave`` with ``reason``: disconnect for good, or (``reconnect``)
    join again from scratch."""
    action = rtc.LeaveRequest.RECONNECT if reconnect else rtc.LeaveRequest.DISCONNECT
    return rtc.SignalResponse(
        leave=rtc.LeaveRequest(
            can_reconnect=reconnect,
            reason=disconnect_reason(reason),  # type: ignore[arg-type]
            action=action,
        )
    )


def parse_candidate_init(text: str) -> tuple[str, str | None, int | None]:
    """``(candidate, sdpMid, sdpMLineIndex)`` of a trickle's ``candidateInit`` JSON; an
    empty candidate means end-of-candidates. ValueError when malformed."""
    if len(text) > MAX_CANDIDATE_INIT_BYTES:
        raise ValueError("candidateInit too large")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise ValueError("candidateInit is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("candidateInit is not an object")
    candidate = data.get("candidate", "")
    mid = data.get("sdpMid")
    index = data.get("sdpMLineIndex")
    if not isinstance(candidate, str):
        raise ValueError("candidate is not a string")
    return (
        candidate,
        mid if isinstance(mid, str) else None,
        index if isinstance(index, int) and not isinstance(index, bool) else None,
    )
