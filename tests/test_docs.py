"""The README and docs match the code: quick start, CI command, snippets, CLI reference, build."""

from __future__ import annotations

import argparse
import html
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from heygen_streaming.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
FENCE = re.compile(r"```(\w*)\n(.*?)```", re.S)

DEMO_COMMAND = "pip install '.[emulator]' && heygen-streaming demo --out avatar.mp4"


def section(text: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match is not None, f"no '## {title}' section"
    return match.group(1)


def quick_start_commands() -> list[str]:
    blocks = FENCE.findall(section(README, "Quick start"))
    assert [lang for lang, _ in blocks] == ["bash", "bash"], "exactly two bash blocks"
    commands = [body.strip() for _, body in blocks]
    assert all("\n" not in c for c in commands), "each command is one line"
    return commands


def test_readme_quick_start_holds_exactly_the_two_commands() -> None:
    demo, tests = quick_start_commands()
    assert demo == DEMO_COMMAND
    assert "pytest" in tests and ".[test]" in tests


def test_ci_runs_exactly_the_readme_test_command() -> None:
    _, tests = quick_start_commands()
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in ci
    lines = [line.strip() for line in ci.splitlines()]
    assert tests in lines
    assert lines.index(tests) > lines.index(". .venv/bin/activate")  # inside the fresh venv


def test_readme_links_to_existing_docs() -> None:
    for target in re.findall(r"\]\(((?:docs|examples)/[^)#]*)", README):
        assert (ROOT / target).exists(), target


@pytest.mark.timeout(120)
async def test_readme_api_snippet_runs_against_the_emulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from heygen_streaming.emulator import Emulator

    blocks = [
        b for lang, b in FENCE.findall(section(README, "The API in 15 lines")) if lang == "python"
    ]
    assert len(blocks) == 1
    code = blocks[0]
    assert len(code.strip().splitlines()) <= 20
    assert code.rstrip().endswith("asyncio.run(main())")
    code = code.rstrip().removesuffix("asyncio.run(main())")  # we are inside a loop already
    monkeypatch.chdir(tmp_path)
    async with Emulator(api_key="readme-key", port=0) as emu:
        monkeypatch.setenv("HEYGEN_API_KEY", "readme-key")
        monkeypatch.setenv("HEYGEN_BASE_URL", emu.base_url)
        namespace: dict[str, object] = {}
        exec(compile(code, "README.md", "exec"), namespace)
        await namespace["main"]()  # type: ignore[operator]
    assert (tmp_path / "hello.mp4").stat().st_size > 0
    dropped = re.findall(r"frames_dropped=(\d+)", capsys.readouterr().out)
    assert dropped and set(dropped) == {"0"}  # the snippet closes the stream it leaves


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_cli_reference_documents_every_command_and_option() -> None:
    doc = (ROOT / "docs" / "cli.md").read_text()
    parser = build_parser()
    todo = [("", parser)]
    while todo:
        prefix, p = todo.pop()
        for action in p._actions:
            for option in action.option_strings:
                if option.startswith("--") and option != "--help":
                    assert f"`{option}" in doc, f"{prefix or 'global'} option {option}"
        for name, child in _subcommands(p).items():
            full = f"{prefix} {name}".strip()
            assert name in doc, full
            todo.append((full, child))
    for name in _subcommands(parser):
        assert f"## `heygen-streaming {name}" in doc, name


@pytest.mark.timeout(240)
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[test]')")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=230,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    api = (tmp_path / "api" / "index.html").read_text()
    for name in ("StreamingClient", "Session", "new_session", "speak", "Emulator", "ErrorCode"):
        assert name in api, name
    assert "tree::" not in api  # no reST literal-block marker leaks into the page
    # Session's parameters table: optional arguments are not marked "required".
    section = api.split('id="heygen_streaming.Session"', 1)[1].split("</table>", 1)[0]
    defaults = {}
    for row in re.split(r"<tr\b[^>]*>", section)[1:]:
        cells = [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", c)).split()) for c in
                 row.split("</td>")[:-1]]  # fmt: skip
        if cells:
            defaults[cells[0]] = cells[-1]
    for name in ("avatar", "voice", "quality", "video_capacity", "audio_capacity"):
        assert defaults.get(name, "required") != "required", (name, defaults)
    assert (tmp_path / "testing" / "index.html").exists()


def test_api_reference_documents_only_importable_names() -> None:
    import heygen_streaming

    api = (ROOT / "docs" / "api.md").read_text()
    documented = set(re.findall(r"^::: heygen_streaming\.([A-Za-z]\w*)$", api, re.M))
    errors = api.split("::: heygen_streaming._errors", 1)[1].split("\n\n", 1)[0]
    documented |= set(re.findall(r"^\s+- (\w+)$", errors, re.M))
    exported = set(heygen_streaming.__all__)
    assert documented - {"emulator", "testing"} <= exported
    public_errors = {
        n for n in exported
        if isinstance(getattr(heygen_streaming, n), type)
        and issubclass(getattr(heygen_streaming, n), heygen_streaming.HeyGenError)
    }  # fmt: skip
    assert public_errors <= documented


def test_emulator_page_documents_every_emulator_option() -> None:
    pytest.importorskip("aiohttp")
    from heygen_streaming.emulator.__main__ import build_parser as emulator_parser

    doc = (ROOT / "docs" / "emulator.md").read_text()
    for action in emulator_parser()._actions:
        for option in action.option_strings:
            if option.startswith("--") and option != "--help":
                assert f"`{option}" in doc, option


def test_testing_page_lists_every_fault_endpoint_name() -> None:
    pytest.importorskip("aiohttp")
    from heygen_streaming.emulator import Emulator

    doc = (ROOT / "docs" / "testing.md").read_text()
    table = doc.split("### Fault names", 1)[1].split("Media and connection faults", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "`" in line]
    listed = {name for row in rows for name in re.findall(r"`([a-z_.]+)`", row.split("|")[2])}
    endpoints = Emulator().faults.endpoints
    assert endpoints is not None
    assert listed - {"streaming.new"} == set(endpoints)
