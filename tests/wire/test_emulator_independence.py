"""The emulator owns its wire definitions: it imports nothing private from the SDK.

A wire bug in the SDK must not be mirrored by the emulator, so ``emulator/`` may not import
``heygen_streaming._*`` (the SDK's private modules), directly or relatively.
"""

from __future__ import annotations

import ast
from pathlib import Path

import heygen_streaming.emulator

EMULATOR = Path(heygen_streaming.emulator.__file__).parent


def _private_sdk_imports(path: Path) -> list[str]:
    package = ["heygen_streaming", *path.relative_to(EMULATOR.parent).parent.parts]
    return _scan(path.read_text("utf-8"), package, path.name)


def _scan(source: str, package: list[str], where: str) -> list[str]:
    tree = ast.parse(source, where)
    found: list[str] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names = [module] + [f"{module}.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "heygen_streaming" and len(parts) > 1 and parts[1].startswith("_"):
                found.append(f"{where}:{node.lineno}: {name}")
    return found


def test_emulator_imports_nothing_private_from_the_sdk() -> None:
    files = sorted(EMULATOR.rglob("*.py"))
    assert len(files) > 10
    offenders = [hit for path in files for hit in _private_sdk_imports(path)]
    assert offenders == []


def test_the_check_sees_relative_and_absolute_private_imports() -> None:
    """The checker itself: each spelling of a private import is caught, at any depth."""
    emulator = ["heygen_streaming", "emulator"]
    for line, package in [
        ("from .._errors import ErrorCode", emulator),
        ("from .. import _models", emulator),
        ("from ... import _models", [*emulator, "v3"]),
        ("import heygen_streaming._client", emulator),
        ("from heygen_streaming._v1.models import Envelope", emulator),
    ]:
        assert _scan(line, package, "probe.py"), line
    fine = "from .routes import Route\nfrom aiohttp import web\nfrom .. import emulator\n"
    assert _scan(fine, emulator, "probe.py") == []
