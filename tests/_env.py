"""Helpers shared by the suite: a clean environment for subprocesses, system-tool checks."""

from __future__ import annotations

import os
import re
import shutil

URL_RE = re.compile(r"https?://[\w.\-\[\]:]+")

# Set by .ci/run: a skipped test is then a failure (CI installs every system tool).
REQUIRE_ALL_ENV = "HEYGEN_REQUIRE_ALL"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any configured HeyGen key or URL (tests never reach HeyGen)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEYGEN_")}
    env.update(extra)
    return env


def missing_tool(tool: str, package: str) -> str | None:
    """Why ``tool`` cannot be used (naming the Debian package to install), or ``None``."""
    if shutil.which(tool) is not None:
        return None
    return f"`{tool}` is not installed (Debian/Ubuntu: apt-get install {package})"


def require_all() -> bool:
    """True when every test must run (no skips allowed), as in CI."""
    return os.environ.get(REQUIRE_ALL_ENV, "") not in ("", "0")
