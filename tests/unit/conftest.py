"""Fixtures for the respx-based unit tests of the REST layer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import respx

from heygen_streaming import StreamingClient

BASE = "https://api.test"
SECRET = "sk-UNIT-SECRET-7f3a9c2e-do-not-log"


def ok(data: Any = None) -> dict[str, Any]:
    """A success envelope."""
    return {"code": 100, "message": "success", "data": data}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEYGEN_API_KEY", raising=False)
    monkeypatch.delenv("HEYGEN_BASE_URL", raising=False)


@pytest.fixture(autouse=True)
def sleeps(backoff_delays: list[float]) -> list[float]:
    """Backoff delays requested by the client; the sleep itself returns at once."""
    return backoff_delays


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
async def client(api: respx.MockRouter) -> AsyncIterator[StreamingClient]:
    async with StreamingClient(api_key=SECRET, base_url=BASE) as c:
        yield c
