"""Twenty concurrent low-quality sessions from one emulator (functional, no timing asserts)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from heygen_streaming.emulator import Emulator, read_stamp

from ._rawclient import RawClient

SESSIONS = 20


async def _first_stamped_frame(client: RawClient) -> int:
    while True:
        stamp = read_stamp(await client.video.get())
        if stamp is not None:
            return stamp.index


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_twenty_concurrent_low_quality_sessions(emulator: Emulator, api_key: str) -> None:
    limits = httpx.Limits(max_connections=SESSIONS)
    async with httpx.AsyncClient(
        base_url=emulator.base_url, headers={"X-Api-Key": api_key}, timeout=30, limits=limits
    ) as http:
        clients = [RawClient(http) for _ in range(SESSIONS)]
        try:
            await asyncio.gather(*(c.connect(quality="low") for c in clients))
            assert len(emulator.sessions) == SESSIONS
            async with asyncio.timeout(60):
                await asyncio.gather(*(_first_stamped_frame(c) for c in clients))
            # Every session speaks independently.
            tasks = await asyncio.gather(
                *(c.call("task", {"session_id": c.session_id, "text": "hi"}) for c in clients)
            )
            assert len({t["task_id"] for t in tasks}) == SESSIONS
            await asyncio.gather(*(c.call("stop", {"session_id": c.session_id}) for c in clients))
            assert emulator.sessions == []
        finally:
            await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
