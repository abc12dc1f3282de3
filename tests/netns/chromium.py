"""Chromium inside a namespace while Playwright stays outside (see the package docs)."""

from __future__ import annotations

import shlex
from pathlib import Path

__all__ = ["chromium_in_netns"]


def chromium_in_netns(ns: str, directory: Path, *, chromium: str = "/usr/bin/chromium") -> Path:
    """Write an executable wrapper ``exec ip netns exec NS CHROMIUM "$@"`` in ``directory``
    and return its path (Playwright's ``executable_path``)."""
    script = directory / f"chromium-in-{ns}"
    command = f"exec ip netns exec {shlex.quote(ns)} {shlex.quote(chromium)}"
    script.write_text(f'#!/bin/sh\n{command} "$@"\n')
    script.chmod(0o755)
    return script
