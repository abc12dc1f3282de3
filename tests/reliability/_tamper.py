"""An httpx transport that forwards to the real emulator but can tamper with calls."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

Rewrite = Callable[[Any], Any]


class TamperTransport(httpx.AsyncBaseTransport):
    """Forward requests; ``swallow`` endpoints get a fake success without reaching the
    server, ``rewrite`` endpoints have their JSON response passed through a function."""

    def __init__(
        self,
        *,
        swallow: frozenset[str] = frozenset(),
        rewrite: dict[str, Rewrite] | None = None,
    ) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.swallow = swallow
        self.rewrite = rewrite or {}
        self.calls: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        endpoint = request.url.path.rsplit("/", 1)[-1]
        self.calls.append(endpoint)
        if endpoint in self.swallow:
            return httpx.Response(
                200, json={"code": 100, "message": "success", "data": None}, request=request
            )
        response = await self.inner.handle_async_request(request)
        if endpoint not in self.rewrite:
            return response
        await response.aread()
        body = self.rewrite[endpoint](json.loads(response.content))
        return httpx.Response(response.status_code, json=body, request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()
