"""Helpers for tests that run the CLI or examples in a subprocess."""

from __future__ import annotations

import os
import re

URL_RE = re.compile(r"https?://[\w.\-\[\]:]+")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any configured HeyGen key or URL (tests never reach HeyGen)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEYGEN_")}
    env.update(extra)
    return env
