"""A raw aiortc client receives the emulator's stamped video and its speech."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from heygen_streaming.emulator import Emulator, read_stamp

from ._rawclient import RawClient, rms


@pytest.mark.timeout(40)
async def test_raw_client_gets_stamped_video_and_louder_speech(
    emulator: Emulator, api_key: str
) -> None:
    async with httpx.AsyncClient(
        base_url=emulator.base_url, headers={"X-Api-Key": api_key}
    ) as http:
        client = RawClient(http)
        try:
            await client.connect()
            assert client.info["sdp"]["type"] == "offer"
            assert sorted(client.kinds) == ["audio", "video"]

            # Stamped video at the low-quality size; indices increase, send times are recent.
            stamps = []
            for _ in range(20):
                frame = await asyncio.wait_for(client.video.get(), 10)
                assert (frame.width, frame.height) == (640, 360)
                stamp = read_stamp(frame)
                assert stamp is not None
                stamps.append(stamp)
            indices = [s.index for s in stamps]
            assert indices == sorted(indices) and len(set(indices)) == len(indices)
            assert all(abs(time.time() - s.sent_at) < 10 for s in stamps)

            # Idle audio is near silent.
            idle = [rms(await asyncio.wait_for(client.audio.get(), 10)) for _ in range(25)]
            assert max(idle) < 0.01

            task = await client.call(
                "task", {"session_id": client.session_id, "text": "Hello from the test suite"}
            )
            assert task["task_id"] and task["duration_ms"] >= 500
            peak = 0.0
            async with asyncio.timeout(10):
                while peak < 0.05:
                    peak = max(peak, rms(await client.audio.get()))
            assert peak > 10 * max(idle)

            await client.call("stop", {"session_id": client.session_id})
            assert emulator.sessions == []
        finally:
            await client.close()
