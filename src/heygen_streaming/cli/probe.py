"""Is the base URL a heygen-streaming emulator? ``GET {base}/emulator`` says (no credential).

The emulator answers it with its version, its auth mode and, per API it serves, the ids to
default to; every emulator answer also carries ``X-HeyGen-Emulator``. HeyGen's servers do
neither. The command line asks only when it needs the defaults (``realtime`` without
``--avatar``/``--voice``), and never HeyGen's own host.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from .run import CLIError

__all__ = ["EMULATOR_HEADER", "EmulatorInfo", "probe_emulator"]

EMULATOR_HEADER = "X-HeyGen-Emulator"
_PROBE_TIMEOUT = 10.0


@dataclass(frozen=True)
class EmulatorInfo:
    """What an emulator said about itself (``apis`` maps an API name to its defaults)."""

    version: str
    apis: dict[str, dict[str, Any]] = field(default_factory=dict)


async def probe_emulator(base_url: str) -> EmulatorInfo | None:
    """The emulator's self-description, or ``None`` when ``base_url`` is no emulator.

    A server that cannot be reached raises `CLIError` naming the URL and the flag.
    """
    url = base_url.rstrip("/") + "/emulator"
    try:
        async with httpx.AsyncClient(timeout=_PROBE_TIMEOUT, follow_redirects=False) as http:
            response = await http.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise CLIError(
            f"cannot reach {base_url} ({type(exc).__name__}): is it running, and is "
            "--base-url / $HEYGEN_BASE_URL right?"
        ) from None
    version = response.headers.get(EMULATOR_HEADER)
    body: Any = None
    if response.status_code == 200:
        try:
            body = response.json()
        except ValueError:
            body = None
    if isinstance(body, dict) and body.get("emulator") == "heygen-streaming":
        apis = body.get("apis")
        return EmulatorInfo(
            version=str(body.get("version", version or "")),
            apis={k: v for k, v in apis.items() if isinstance(v, dict)}
            if isinstance(apis, dict)
            else {},
        )
    if version is not None:  # an emulator without the probe route: no defaults to read
        return EmulatorInfo(version=version)
    return None
