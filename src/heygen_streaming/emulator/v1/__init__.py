"""HeyGen Streaming API v1 (``/v1/streaming.*``, retired by HeyGen, emulated here).

`api` holds the route table and handlers, `wire` the captured bodies and codes, `peer` the
aiortc peer of a session and `offer` the pion-shaped offer it makes.
"""

from __future__ import annotations

from .api import V1Api

__all__ = ["V1Api"]
