"""Room tokens: LiveKit JWTs minted and verified with the room server's API key and secret.

Minting uses the official ``livekit.api.AccessToken`` (HS256, grants under ``video``,
identity in ``sub``, the API key in ``iss``), verification the official ``TokenVerifier``
(signature, ``exp`` required, 60 s leeway as LiveKit's). Refusals carry the HTTP status and
text LiveKit's server answers (``pkg/service/auth.go``, ``utils.go``):

=============================================  ======  =============================================
token                                          status  text
=============================================  ======  =============================================
none                                           401     permissions denied
``Authorization`` not ``Bearer ...``           401     invalid authorization header...
malformed, bad signature, no ``exp``           401     invalid authorization token
expired (more than 60 s ago)                   401     invalid authorization token: token is expired
signed for another API key (``iss``)           401     invalid API key
no ``roomJoin`` grant                          401     permissions denied
empty identity / no room                       400     identity cannot be empty / no room name
identity or room name over 256 characters      400     ... length exceeds limits
metadata over 512 KiB, attributes over 64 KiB  400     ... size exceeds limits
=============================================  ======  =============================================

A token for a room this server does not have is answered 404 (LiveKit without room
auto-creation) by the server, not here. No message ever contains the token.
"""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass, field

import jwt
from livekit.api import AccessToken, TokenVerifier, VideoGrants

__all__ = ["MAX_NAME_LENGTH", "Grant", "JoinRefused", "TokenAuthority"]

MAX_NAME_LENGTH = 256
"""Longest identity, participant name and room name (LiveKit's defaults)."""
MAX_METADATA_BYTES = 512 * 1024
"""Longest metadata a token may carry (LiveKit's default)."""
MAX_ATTRIBUTES_BYTES = 64 * 1024
"""Largest attributes a token may carry, keys and values together (LiveKit's default)."""


class JoinRefused(Exception):
    """A join (or ``/rtc/validate``) refused with an HTTP status and LiveKit's text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Grant:
    """What a verified token allows: who joins which room with which permissions."""

    identity: str
    room: str
    name: str = ""
    metadata: str = ""
    can_publish: bool = True
    can_subscribe: bool = True
    can_publish_data: bool = True
    attributes: dict[str, str] = field(default_factory=dict)


class TokenAuthority:
    """Mint and verify room tokens with one API key and secret (random when not given)."""

    def __init__(self, api_key: str | None = None, api_secret: str | None = None) -> None:
        self.api_key = api_key or "API" + secrets.token_hex(6)
        self.api_secret = api_secret or secrets.token_urlsafe(32)
        self._verifier = TokenVerifier(self.api_key, self.api_secret)

    def __repr__(self) -> str:
        return f"TokenAuthority(api_key={self.api_key!r})"  # never the secret

    def mint(
        self,
        *,
        room: str,
        identity: str,
        name: str = "",
        ttl: float = 3600.0,
        can_publish: bool = True,
        can_subscribe: bool = True,
        can_publish_data: bool = True,
        metadata: str = "",
    ) -> str:
        """A join token for ``identity`` in ``room`` valid for ``ttl`` seconds (may be < 0)."""
        grants = VideoGrants(
            room_join=True,
            room=room,
            can_publish=can_publish,
            can_subscribe=can_subscribe,
            can_publish_data=can_publish_data,
        )
        token = (
            AccessToken(self.api_key, self.api_secret)
            .with_identity(identity)
            .with_grants(grants)
            .with_ttl(datetime.timedelta(seconds=ttl))
        )
        if name:
            token = token.with_name(name)
        if metadata:
            token = token.with_metadata(metadata)
        return token.to_jwt()

    def verify(self, token: str) -> Grant:
        """The grant of a valid join token; `JoinRefused` (LiveKit's status) otherwise."""
        if not token:
            raise JoinRefused(401, "permissions denied")
        try:
            claims = self._verifier.verify(token)
        except jwt.InvalidIssuerError:
            raise JoinRefused(401, "invalid API key") from None
        except jwt.ExpiredSignatureError:
            raise JoinRefused(401, "invalid authorization token: token is expired") from None
        except Exception:  # any malformed token: pyjwt or the claim parsing raises
            raise JoinRefused(401, "invalid authorization token") from None
        video = claims.video
        if video is None or video.room_join is not True:
            raise JoinRefused(401, "permissions denied")
        identity, room = _text(claims.identity), _text(video.room)
        if not identity:
            raise JoinRefused(400, "identity cannot be empty")
        if len(identity) > MAX_NAME_LENGTH:
            raise JoinRefused(400, "participant identity length exceeds limits")
        if not room:
            raise JoinRefused(400, "no room name")
        if len(room) > MAX_NAME_LENGTH:
            raise JoinRefused(400, "room name length exceeds limits")
        metadata = _text(claims.metadata)
        if len(metadata.encode()) > MAX_METADATA_BYTES:
            raise JoinRefused(400, "metadata size exceeds limits")
        raw = claims.attributes if isinstance(claims.attributes, dict) else {}
        attributes = {str(k): str(v) for k, v in raw.items()}
        if (
            sum(len(k.encode()) + len(v.encode()) for k, v in attributes.items())
            > MAX_ATTRIBUTES_BYTES
        ):
            raise JoinRefused(400, "attribute size exceeds limits")
        return Grant(
            identity=identity,
            room=room,
            name=_text(claims.name)[:MAX_NAME_LENGTH],
            metadata=metadata,
            can_publish=video.can_publish is not False,
            can_subscribe=video.can_subscribe is not False,
            can_publish_data=video.can_publish_data is not False,
            attributes=attributes,
        )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
