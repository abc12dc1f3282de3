"""Shared fixtures: an in-process emulator and its coordinates."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from heygen_streaming import _retry
from heygen_streaming.emulator import Emulator

API_KEY = "test-key"


@pytest.fixture
def api_key() -> str:
    """The API key the ``emulator`` fixture accepts."""
    return API_KEY


@pytest.fixture
async def emulator(api_key: str) -> AsyncIterator[Emulator]:
    """A fresh in-process emulator on 127.0.0.1 (random port, frame stamps on), closed after."""
    async with Emulator(api_key=api_key, port=0, stamp=True) as emu:
        yield emu


@pytest.fixture
def emulator_url(emulator: Emulator) -> str:
    """Base URL of the ``emulator`` fixture."""
    return emulator.base_url


@pytest.fixture
def backoff_delays(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the client's retry backoffs instead of sleeping them."""
    delays: list[float] = []

    async def record(delay: float) -> None:
        delays.append(delay)

    monkeypatch.setattr(_retry, "sleep", record)
    return delays
