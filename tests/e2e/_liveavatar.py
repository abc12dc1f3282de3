"""Plain-HTTP helpers for the LiveAvatar emulator tests (no SDK code)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx

from heygen_streaming.emulator.liveavatar.catalog import AVATARS

AVATAR_ID = AVATARS[0].id
PERSONA = {"avatar_persona": {"language": "en"}}


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The ``data`` of a success envelope (code 1000)."""
    payload = response.json()
    assert response.status_code == status, payload
    assert payload["code"] == 1000 and "message" in payload, payload
    return payload["data"]


def failed(response: httpx.Response, status: int) -> str:
    """The message of an error answer with ``status``."""
    payload = response.json()
    assert response.status_code == status, payload
    assert "Traceback" not in response.text
    message: str = payload["message"]
    assert payload["code"] == status and message
    return message


def detail(response: httpx.Response) -> list[dict[str, Any]]:
    """The FastAPI ``detail`` list of a 422."""
    payload = response.json()
    assert response.status_code == 422, payload
    entries: list[dict[str, Any]] = payload["detail"]
    assert entries and all({"type", "loc", "msg"} <= set(e) for e in entries)
    return entries


def claims(token: str) -> dict[str, Any]:
    """A JWT's payload, read as the web SDK reads it (no verification)."""
    body = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return decoded


async def create_token(
    http: httpx.AsyncClient, key: str, *, mode: str = "FULL", **body: Any
) -> tuple[str, str]:
    """(session_id, session_token) from ``/v1/sessions/token``."""
    payload = {"avatar_id": AVATAR_ID, "mode": mode, **(PERSONA if mode == "FULL" else {}), **body}
    data = ok(await http.post("/v1/sessions/token", headers={"X-API-KEY": key}, json=payload))
    return data["session_id"], data["session_token"]


async def start(http: httpx.AsyncClient, token: str) -> dict[str, Any]:
    """The ``/v1/sessions/start`` data (201)."""
    headers = {"Authorization": f"Bearer {token}"}
    data: dict[str, Any] = ok(await http.post("/v1/sessions/start", headers=headers), 201)
    return data


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
