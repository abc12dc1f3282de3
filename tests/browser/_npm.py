"""A published npm package, installed into a gitignored test folder and bundled by esbuild."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

__all__ = ["bundle"]


def _run(args: list[str], cwd: Path) -> None:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=150, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr[-2000:]}"
        )


def bundle(directory: Path, package: str, version: str) -> str:
    """``directory/entry.js`` bundled as an IIFE, after ``npm install`` of its package.json
    when ``package`` is not installed at ``version`` yet (once per checkout)."""
    npm = shutil.which("npm")
    assert npm is not None  # the tests' requires_tool("npm") mark skips without it
    installed = directory / "node_modules" / package / "package.json"
    if not installed.exists() or f'"version": "{version}"' not in installed.read_text():
        _run(
            [npm, "install", "--no-package-lock", "--no-audit", "--no-fund", "--loglevel=error"],
            directory,
        )
    out = directory / "bundle.js"
    esbuild = directory / "node_modules" / ".bin" / "esbuild"
    _run([str(esbuild), "entry.js", "--bundle", "--format=iife", "--platform=browser",
          f"--outfile={out.name}", "--log-level=warning"], directory)  # fmt: skip
    return out.read_text()
