"""Shared set-up of the examples: a client for HeyGen, for a given base URL, or for an
embedded emulator when nothing is configured (so ``python examples/x.py`` just works).

Configuration: ``--api-key`` / ``--base-url``, else ``HEYGEN_API_KEY`` / ``HEYGEN_BASE_URL``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from heygen_streaming import StreamingClient

EMULATOR_KEY = "example-key"


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every example shares."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--api-key", help="HeyGen API key (default: $HEYGEN_API_KEY)")
    p.add_argument("--base-url", help="API base URL (default: $HEYGEN_BASE_URL)")
    p.add_argument("--quality", default="low", choices=["low", "medium", "high"])
    p.add_argument("--avatar", default=None, help="avatar name (default: the service's)")
    return p


@asynccontextmanager
async def connect(args: argparse.Namespace) -> AsyncIterator[StreamingClient]:
    """A ``StreamingClient`` for the configured service, else for an embedded emulator."""
    api_key = args.api_key or os.environ.get("HEYGEN_API_KEY")
    base_url = args.base_url or os.environ.get("HEYGEN_BASE_URL")
    if api_key or base_url:
        async with StreamingClient(api_key=api_key, base_url=base_url) as client:
            yield client
        return
    from heygen_streaming.emulator import Emulator  # needs the [emulator] extra

    async with Emulator(api_key=EMULATOR_KEY, port=0) as emu:
        print(f"(no HEYGEN_API_KEY: using an embedded emulator at {emu.base_url})", file=sys.stderr)
        async with StreamingClient(api_key=EMULATOR_KEY, base_url=emu.base_url) as client:
            yield client
