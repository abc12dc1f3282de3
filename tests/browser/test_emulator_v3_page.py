"""Real Chromium plays a v3 (HLS) stream on the emulator's own page, with Media Source
Extensions: the video advances at 1280x720, words arrive, cancel ends the stream."""

from __future__ import annotations

from typing import Any

import pytest

from heygen_streaming.emulator import Emulator
from heygen_streaming.emulator.v3 import Status

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]

TEXT = "Hello from Chromium. This avatar speaks long enough for the video to play a while. " * 3


async def test_v3_page_plays_hls_with_mse_and_shows_words(
    emulator: Emulator, api_key: str, browser_page: Any
) -> None:
    page = browser_page
    await page.goto(emulator.base_url + "/static/v3.html")
    await page.fill("#apiKey", api_key)
    await page.fill("#text", TEXT)
    await page.click("#start")
    await page.wait_for_function("window.v3demo.status === 'streaming'", timeout=30_000)
    await page.wait_for_function(
        "document.querySelector('video').currentTime > 0.5", timeout=30_000
    )
    assert await page.evaluate("document.querySelector('video').videoWidth") == 1280
    assert await page.evaluate("document.querySelector('video').videoHeight") == 720
    first = await page.evaluate("document.querySelector('video').currentTime")
    await page.wait_for_function(
        f"document.querySelector('video').currentTime > {first} + 1.0", timeout=30_000
    )
    await page.wait_for_function("window.v3demo.words.length >= 5", timeout=30_000)
    words = await page.evaluate("window.v3demo.words.slice(0, 3).map(w => w.word)")
    assert words == ["Hello", "from", "Chromium"]

    stream_id = await page.evaluate("window.v3demo.streamId")
    stream = emulator.realtime.registry.streams[stream_id]
    assert stream.status is Status.STREAMING
    await page.click("#cancel")
    await page.wait_for_function("window.v3demo.end !== null", timeout=30_000)
    end = await page.evaluate("window.v3demo.end")
    assert end["end_reason"] == "cancelled" and end["status"] == "completed"
    await page.wait_for_function("window.v3demo.status === 'completed'", timeout=30_000)
    assert stream.status is Status.COMPLETED
    assert await page.evaluate("window.v3demo.errors") == []
