"""What a user's backend does over plain HTTP (no SDK code): token, start, stop."""

from __future__ import annotations

from typing import Any

import httpx

from heygen_streaming.emulator.liveavatar.catalog import AVATARS

KEY = "la-key"


async def session_token(base_url: str, mode: str, quality: str = "low") -> str:
    """A session token for a FULL or LITE session of the first public avatar."""
    body: dict[str, Any] = {
        "avatar_id": AVATARS[0].id,
        "mode": mode,
        "video_settings": {"quality": quality},
    }
    if mode == "FULL":
        body["avatar_persona"] = {"language": "en"}
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        answer = await http.post("/v1/sessions/token", headers={"X-API-KEY": KEY}, json=body)
    token: str = answer.json()["data"]["session_token"]
    return token


async def start_session(base_url: str, mode: str) -> tuple[str, dict[str, Any]]:
    """token + start: (session token, the ``/start`` data)."""
    token = await session_token(base_url, mode)
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        started = await http.post(
            "/v1/sessions/start", headers={"Authorization": f"Bearer {token}"}
        )
    assert started.status_code == 201, started.text
    data: dict[str, Any] = started.json()["data"]
    return token, data


async def stop_session(base_url: str, token: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        answer = await http.post("/v1/sessions/stop", headers={"Authorization": f"Bearer {token}"})
    assert answer.json()["code"] == 1000
