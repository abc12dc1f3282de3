"""The package layout's import rules (docs/architecture.md), read from the source with ``ast``.

1. ``_errors`` imports nothing of the package.
2. ``_http/`` and ``_media/`` import only ``_errors`` (and each other where needed), never an
   API, the client, the CLI or the emulator.
3. Each API package (``_v1/``, ``_realtime/``, and any later one such as ``_liveavatar/``:
   every top-level ``_`` folder but ``_http``, ``_media`` and ``_sessions``) imports
   ``_http``, ``_media``, ``_sessions``, ``_errors``, ``_version`` (a leaf: a client's
   User-Agent) and itself, never another API package, and sees the client only under
   ``TYPE_CHECKING``.
4. Only ``_client.py`` and ``__init__.py`` know several APIs; ``cli/`` uses the public names
   and ``_client``; nothing imports ``cli/`` (but ``__main__``, the command itself).
5. ``emulator/`` imports nothing of the SDK.
6. No runtime import cycle (module-level imports; ``TYPE_CHECKING`` excluded); no module
   over 500 lines.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import heygen_streaming

PACKAGE = Path(heygen_streaming.__file__).parent
ROOT = "heygen_streaming"
MAX_LINES = 500


@dataclass(frozen=True)
class Import:
    """One imported module, as written in ``source``."""

    source: str
    target: str
    line: int
    type_checking: bool
    module_level: bool

    def __str__(self) -> str:
        return f"{self.source}:{self.line} imports {self.target}"


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = [ROOT, *path.relative_to(package).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def scan(source: str, name: str, is_package: bool, known: set[str]) -> list[Import]:
    """The package-internal imports of module ``name`` (``known``: every module's name)."""
    package = name.split(".") if is_package else name.split(".")[:-1]
    found: list[Import] = []

    def visit(node: ast.AST, type_checking: bool, module_level: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True, module_level)
            for child in node.orelse:
                visit(child, type_checking, module_level)
            return
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            module_level = False
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            # ``from . import preload`` imports a module; ``from .. import Quality`` a name
            submodules = [f"{module}.{a.name}" for a in node.names]
            targets = [m for m in submodules if m in known]
            if len(targets) < len(submodules):
                targets.append(module)
        for target in targets:
            if target == ROOT or target.startswith(ROOT + "."):
                line = getattr(node, "lineno", 0)
                found.append(Import(name, target, line, type_checking, module_level))
        for child in ast.iter_child_nodes(node):
            visit(child, type_checking, module_level)

    visit(ast.parse(source, name), False, True)
    return found


def package_imports(package: Path = PACKAGE) -> list[Import]:
    files = sorted(package.rglob("*.py"))
    known = {module_name(path, package) for path in files}
    return [
        imp
        for path in files
        for imp in scan(
            path.read_text("utf-8"), module_name(path, package), path.name == "__init__.py", known
        )
    ]


def top(name: str) -> str:
    """The top-level part below the package: ``_v1`` for ``heygen_streaming._v1.api``."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def api_packages(package: Path = PACKAGE) -> set[str]:
    return {
        p.name
        for p in package.iterdir()
        if p.is_dir()
        and p.name.startswith("_")
        and not p.name.startswith("__")
        and p.name not in ("_http", "_media", "_sessions")
    }


def violations(imports: list[Import], apis: set[str]) -> Iterator[str]:
    """Every import that breaks rules 1 to 5."""
    for imp in imports:
        source, target = top(imp.source), top(imp.target)
        if source == target and imp.source != ROOT:
            continue  # within one part
        if source == "_errors":
            yield f"rule 1: {imp}"
        elif source in ("_http", "_media") and target not in ("_errors", "_http", "_media"):
            yield f"rule 2: {imp}"
        elif source in apis:
            if target == "_client" and imp.type_checking:
                continue
            if target not in ("_http", "_media", "_sessions", "_errors", "_version"):
                yield f"rule 3: {imp}"
        elif source == "cli" and target not in ("", "_client", "emulator"):
            yield f"rule 4 (cli/ uses the public names and _client): {imp}"
        elif source == "emulator":
            yield f"rule 5: {imp}"
        if target == "cli" and source not in ("cli", "__main__"):
            yield f"rule 4 (nothing imports cli/): {imp}"
    knowing: dict[str, set[str]] = {}
    for imp in imports:
        if top(imp.target) in apis and top(imp.source) not in apis:
            knowing.setdefault(imp.source, set()).add(top(imp.target))
    for source, known in sorted(knowing.items()):
        if len(known) > 1 and source not in (ROOT, f"{ROOT}._client"):
            why = "rule 4 (only _client and __init__ know several APIs)"
            yield f"{why}: {source} imports {sorted(known)}"


def cycles(imports: list[Import]) -> list[list[str]]:
    """Cycles of the module-level, runtime imports (importing ``a.b`` runs ``a`` first)."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        if imp.module_level and not imp.type_checking:
            parts = imp.target.split(".")
            for end in range(1, len(parts) + 1):
                target = ".".join(parts[:end])
                if target != imp.source and not imp.source.startswith(target + "."):
                    graph.setdefault(imp.source, set()).add(target)
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node)
    return found


# -- the rules -------------------------------------------------------------------------------


def test_the_layout_has_its_parts() -> None:
    for part in ("_http", "_media", "_sessions", "_v1", "_realtime", "cli", "testing", "emulator"):
        assert (PACKAGE / part / "__init__.py").is_file(), part
    for module in ("_client.py", "_errors.py", "__init__.py", "__main__.py"):
        assert (PACKAGE / module).is_file(), module
    assert {"_v1", "_realtime"} <= api_packages()


def test_imports_follow_the_rules() -> None:
    imports = package_imports()
    assert len(imports) > 200
    assert list(violations(imports, api_packages())) == []


def test_no_runtime_import_cycle() -> None:
    assert cycles(package_imports()) == []


def test_no_module_over_500_lines() -> None:
    sizes = {
        str(path.relative_to(PACKAGE)): len(path.read_text("utf-8").splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


# -- the checker itself ------------------------------------------------------------------------


def _probe(files: dict[str, str], tmp_path: Path) -> list[Import]:
    for name, source in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return package_imports(tmp_path)


def test_the_checker_reads_every_spelling(tmp_path: Path) -> None:
    imports = _probe(
        {
            "__init__.py": "",
            "_errors.py": "",
            "_client.py": "",
            "_v1/__init__.py": "",
            "_v1/api.py": (
                "from typing import TYPE_CHECKING\n"
                "from .. import _errors\n"
                "from .. import Quality\n"
                "from . import preload\n"
                "if TYPE_CHECKING:\n"
                "    from .._client import C\n"
                "def f():\n"
                "    from .._realtime.api import R\n"
            ),
            "_v1/preload.py": "import heygen_streaming._http.transport\n",
            "_realtime/__init__.py": "",
            "_realtime/api.py": "",
        },
        tmp_path,
    )
    seen = {(i.source, i.target, i.type_checking, i.module_level) for i in imports}
    api = "heygen_streaming._v1.api"
    assert (api, "heygen_streaming._errors", False, True) in seen
    assert (api, "heygen_streaming", False, True) in seen
    assert (api, "heygen_streaming._v1.preload", False, True) in seen
    assert (api, "heygen_streaming._client", True, True) in seen
    assert (api, "heygen_streaming._realtime.api", False, False) in seen
    assert ("heygen_streaming._v1.preload", "heygen_streaming._http.transport", False, True) in seen
    found = list(violations(imports, {"_v1", "_realtime"}))
    assert [v.split(":")[0] for v in found] == ["rule 3", "rule 3"]  # the root and _realtime
    assert all("_client" not in v for v in found)  # under TYPE_CHECKING: allowed


@pytest.mark.parametrize(
    ("source", "rule"),
    [
        ("_errors.py", "rule 1"),
        ("_http/x.py", "rule 2"),
        ("_media/x.py", "rule 2"),
        ("_liveavatar/x.py", "rule 3"),
        ("cli/x.py", "rule 4"),
        ("emulator/x.py", "rule 5"),
    ],
)
def test_each_rule_catches_a_breach(tmp_path: Path, source: str, rule: str) -> None:
    files = {
        "__init__.py": "",
        "_errors.py": "",
        "_sessions.py": "",
        "_v1/__init__.py": "",
        "_v1/api.py": "",
        "_http/__init__.py": "",
        "_media/__init__.py": "",
        "_liveavatar/__init__.py": "",
        "cli/__init__.py": "",
        "emulator/__init__.py": "",
    }
    files[source] = "import heygen_streaming._v1.api\n"
    imports = _probe(files, tmp_path)
    assert "_liveavatar" in api_packages(tmp_path)
    assert [v.split(" ")[0] + " " + v.split(" ")[1].rstrip(":") for v in violations(
        imports, api_packages(tmp_path)
    )] == [rule]  # fmt: skip


def test_the_checker_sees_cycles_and_knowing_two_apis(tmp_path: Path) -> None:
    imports = _probe(
        {
            "__init__.py": "",
            "_a.py": "from . import _b\n",
            "_b.py": "from ._a import x\ndef f():\n    from . import _c\n",
            "_c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import _b\n",
            "_v1/__init__.py": "",
            "_realtime/__init__.py": "",
            "testing/__init__.py": "from .. import _v1, _realtime\n",
        },
        tmp_path,
    )
    assert cycles(imports) == [
        ["heygen_streaming._a", "heygen_streaming._b", "heygen_streaming._a"]
    ]
    found = list(violations(imports, {"_v1", "_realtime"}))
    assert len(found) == 1 and "know several APIs" in found[0]
