"""LiveAvatar session tokens: HS256 JWTs carrying ``start_session_data``.

The official web SDK decodes the token's payload (without checking it) and reads
``start_session_data.mode`` (``FULL``/``LITE``) and the agent type from it, so the session
token must be a JWT with that claim. The emulator signs with a per-process secret and
verifies signature and expiry on every use; tokens never appear in logs or reprs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SessionClaims", "SessionTokenError", "SessionTokens"]

_HEADER = {"alg": "HS256", "typ": "JWT"}
MAX_TOKEN_LENGTH = 8192


class SessionTokenError(ValueError):
    """The token is malformed, forged or expired (the message says which, never the token)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise SessionTokenError("malformed token") from None


@dataclass(frozen=True)
class SessionClaims:
    """What a verified session token says."""

    session_id: str
    owner_hash: str = field(repr=False)
    issued_at: float
    expires_at: float
    payload: dict[str, Any] = field(repr=False)


class SessionTokens:
    """Mints and verifies session tokens with one secret (random per emulator)."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def owner_hash(self, owner: str) -> str:
        """An opaque stand-in for the owning key (the key itself never enters a token)."""
        return hmac.new(self._secret, owner.encode(), hashlib.sha256).hexdigest()[:32]

    def mint(
        self, *, session_id: str, owner: str, ttl: float, start_session_data: dict[str, Any]
    ) -> str:
        """A signed token for ``session_id``, valid ``ttl`` seconds."""
        now = time.time()
        payload = {
            "iss": "liveavatar-emulator",
            "sub": session_id,
            "session_id": session_id,
            "space": self.owner_hash(owner),
            "iat": int(now),
            "exp": int(now + ttl),
            "start_session_data": start_session_data,
        }
        head = _b64(json.dumps(_HEADER, separators=(",", ":")).encode())
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{head}.{body}.{self._sign(f'{head}.{body}')}"

    def verify(self, token: str) -> SessionClaims:
        """The claims of a valid token, else `SessionTokenError`."""
        if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            raise SessionTokenError("malformed token")
        head, body, signature = token.split(".")
        if not hmac.compare_digest(self._sign(f"{head}.{body}"), signature):
            raise SessionTokenError("invalid token signature")
        try:
            header = json.loads(_unb64(head))
            payload = json.loads(_unb64(body))
        except (ValueError, UnicodeDecodeError):
            raise SessionTokenError("malformed token") from None
        if not isinstance(header, dict) or header.get("alg") != "HS256":
            raise SessionTokenError("unsupported token algorithm")
        if not isinstance(payload, dict):
            raise SessionTokenError("malformed token")
        session_id, space = payload.get("session_id"), payload.get("space")
        iat, exp = payload.get("iat"), payload.get("exp")
        if not (isinstance(session_id, str) and isinstance(space, str)):
            raise SessionTokenError("malformed token")
        if not (isinstance(iat, int) and isinstance(exp, int)):
            raise SessionTokenError("malformed token")
        if exp <= time.time():
            raise SessionTokenError("token expired")
        return SessionClaims(session_id, space, float(iat), float(exp), payload)

    def _sign(self, signing_input: str) -> str:
        return _b64(hmac.new(self._secret, signing_input.encode(), hashlib.sha256).digest())
