"""Headless Chromium (Debian's package) driven by Playwright's async API."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    # No --disable-features=WebRtcHideLocalIpsWithMdns: Chromium's default mDNS (.local)
    # host candidates must work, as for real users (the emulator resolves them in the
    # background and the peer-reflexive path connects meanwhile).
]


def chromium_path() -> str | None:
    """``$HEYGEN_CHROMIUM``, else ``/usr/bin/chromium``, else ``chromium`` on PATH."""
    for candidate in (os.environ.get("HEYGEN_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")


@pytest.fixture
async def browser_page() -> AsyncIterator[Any]:
    """A fresh page in headless Chromium; skipped when Chromium is not installed."""
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium not found (install Debian's chromium or set HEYGEN_CHROMIUM)")
    async_api = pytest.importorskip("playwright.async_api")
    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page()
            messages: list[str] = []
            page.on("console", lambda msg: messages.append(msg.text))
            page.console_messages = messages
            yield page
        finally:
            await browser.close()
