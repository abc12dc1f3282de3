"""Data packets: LiveKit's ``DataPacket`` protobuf with a ``user`` payload, as sent on the
``_reliable`` and ``_lossy`` data channels.

Reliable packets are numbered per sender, increasing from 1 (`Sequencer`): the official
clients drop a reliable packet whose ``sequence`` is not above the last one seen from the
same ``participant_sid``. Packets from clients are decoded under a size cap
(`MAX_PACKET_BYTES`); anything else than a user packet (chat, RPC, streams, transcriptions)
is ignored by the server.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.message import DecodeError
from livekit.protocol import models

__all__ = [
    "MAX_PACKET_BYTES",
    "MAX_TOPIC_LENGTH",
    "DataMessage",
    "Sequencer",
    "decode_packet",
    "encode_user_packet",
    "user_message",
]

MAX_PACKET_BYTES = 64 * 1024
"""Largest data packet sent or accepted (the SCTP message size both ends advertise)."""
MAX_TOPIC_LENGTH = 256


@dataclass(frozen=True)
class DataMessage:
    """A user data packet: who sent it (identity; ``None`` for an anonymous server packet),
    its topic, payload, whether it came on the reliable channel, and the identities it was
    addressed to (empty: everyone). The observer gets every client packet, whatever its
    destinations; the other clients only those addressed to them."""

    sender: str | None
    topic: str | None
    payload: bytes
    reliable: bool
    destination_identities: tuple[str, ...] = ()


class Sequencer:
    """Per-sender packet numbers: 1, 2, 3, ..."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def next(self) -> int:
        """The next number."""
        return next(self._counter)


def encode_user_packet(
    payload: bytes,
    *,
    sender_identity: str,
    sender_sid: str,
    topic: str | None = None,
    reliable: bool = True,
    sequence: int = 0,
    destination_identities: Sequence[str] = (),
) -> bytes:
    """A serialized user ``DataPacket``; ValueError when it exceeds `MAX_PACKET_BYTES`."""
    if topic is not None and len(topic) > MAX_TOPIC_LENGTH:
        raise ValueError(f"topic longer than {MAX_TOPIC_LENGTH} characters")
    user = models.UserPacket(
        participant_sid=sender_sid,
        participant_identity=sender_identity,
        payload=payload,
        destination_identities=list(destination_identities),
    )
    if topic is not None:
        user.topic = topic
    packet = models.DataPacket(
        kind=models.DataPacket.RELIABLE if reliable else models.DataPacket.LOSSY,
        participant_identity=sender_identity,
        participant_sid=sender_sid,
        destination_identities=list(destination_identities),
        user=user,
        sequence=sequence,
    )
    raw = packet.SerializeToString()
    if len(raw) > MAX_PACKET_BYTES:
        raise ValueError(f"data packet of {len(raw)} bytes exceeds {MAX_PACKET_BYTES}")
    return raw


def decode_packet(raw: bytes) -> models.DataPacket:
    """A client's data packet; ValueError when too large or not a ``DataPacket``."""
    if len(raw) > MAX_PACKET_BYTES:
        raise ValueError(f"data packet of {len(raw)} bytes exceeds {MAX_PACKET_BYTES}")
    packet = models.DataPacket()
    try:
        packet.ParseFromString(raw)
    except (DecodeError, RecursionError):
        raise ValueError("undecodable data packet") from None
    return packet


def user_message(packet: models.DataPacket, *, sender: str, reliable: bool) -> DataMessage | None:
    """The user message of a client's packet (``None`` for other packet types); the sender
    is the connection's identity, whatever the packet claims."""
    if packet.WhichOneof("value") != "user":
        return None
    user = packet.user
    destinations = tuple(packet.destination_identities or user.destination_identities)
    return DataMessage(
        sender=sender,
        topic=user.topic if user.HasField("topic") else None,
        payload=bytes(user.payload),
        reliable=reliable,
        destination_identities=destinations,
    )
