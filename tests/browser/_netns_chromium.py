"""Headless Chromium inside a test namespace (Playwright outside), for the LiveAvatar pages."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from browser.conftest import CHROMIUM_ARGS, chromium_path
from netns import chromium_in_netns


@contextlib.asynccontextmanager
async def netns_page(ns: str, directory: Path) -> AsyncIterator[Any]:
    """A fresh page of Chromium running in namespace ``ns`` (console lines kept in
    ``page.console_messages``); skips when Chromium or Playwright is missing."""
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium not found (install Debian's chromium or set HEYGEN_CHROMIUM)")
    async_api = pytest.importorskip("playwright.async_api")
    wrapper = chromium_in_netns(ns, directory, chromium=path)
    args = [*CHROMIUM_ARGS, "--disable-features=WebRtcHideLocalIpsWithMdns"]
    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(wrapper), headless=True, args=args
        )
        try:
            page = await browser.new_page()
            messages: list[str] = []
            page.on("console", lambda msg: messages.append(msg.text))
            page.console_messages = messages
            yield page
        finally:
            await browser.close()
