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

from _cli import voiced_seconds
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


# -- issue 19: a newcomer's second hour --------------------------------------------------

DOCS = ROOT / "docs"


@pytest.mark.timeout(120)
async def test_quickstart_first_script_records_the_speech_it_makes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from heygen_streaming.emulator import Emulator

    page = (DOCS / "quickstart.md").read_text()
    blocks = [
        b for lang, b in FENCE.findall(section(page, "Your first script")) if lang == "python"
    ]
    assert len(blocks) == 1
    code = blocks[0].rstrip()
    assert code.endswith("asyncio.run(main())")
    monkeypatch.chdir(tmp_path)
    async with Emulator(api_key="quickstart-key", port=0) as emu:
        monkeypatch.setenv("HEYGEN_API_KEY", "quickstart-key")
        monkeypatch.setenv("HEYGEN_BASE_URL", emu.base_url)
        namespace: dict[str, object] = {}
        exec(compile(code.removesuffix("asyncio.run(main())"), "quickstart.md", "exec"), namespace)
        await namespace["main"]()  # type: ignore[operator]
    match = re.search(r"spoke ([\d.]+) ms", capsys.readouterr().out)
    assert match is not None
    # The clip holds the speech, not the silence after it (before: 0.1 s voiced of 1.7 s).
    # Real speech has quiet stretches between words and in unvoiced consonants: half of its
    # duration counts as voiced at least.
    assert voiced_seconds(tmp_path / "clip.mp4") > 0.5 * float(match.group(1)) / 1000


def test_a_key_holder_is_told_what_works_today() -> None:
    readme_key = section(README, "Using a real HeyGen key")
    quickstart = (DOCS / "quickstart.md").read_text()
    index = (DOCS / "index.md").read_text()
    cli_page = (DOCS / "cli.md").read_text()
    for name, text in [
        ("README", readme_key),
        ("quickstart", quickstart),
        ("index", index),
        ("cli", cli_page),
    ]:
        assert "heygen-streaming realtime" in text, name
        # a link that works where the text is read: from the README, or between the pages
        link = "(docs/liveavatar.md)" if name == "README" else "(liveavatar.md)"
        assert "LiveAvatar" in text and link in text, name
    assert "against HeyGen with your own key" not in quickstart
    # the JS v1 demo's users and the concepts page's readers hold HeyGen keys too
    intro = (DOCS / "migrating.md").read_text().split("\n## ", 1)[0]
    assert "(migrating-liveavatar.md)" in intro and "410" in intro
    assert "(liveavatar.md" in (DOCS / "concepts.md").read_text().split("\n## ", 1)[0]
    assert "HTTP 410" in section(quickstart, "Your first script")
    assert "v1 only" not in index
    # The Quick start's demo is the offline demo, key or not.
    assert "even if `HEYGEN_API_KEY` is set" in section(README, "Quick start")


def test_installation_says_how_to_install_when_the_index_lacks_the_package() -> None:
    page = (DOCS / "installation.md").read_text()
    text = section(page, "When the package is not on your index")
    assert "No matching distribution found" in text
    commands = "\n".join(b for lang, b in FENCE.findall(text) if lang == "bash")
    assert "pip install '.[emulator]'" in commands
    assert "pip wheel --no-deps -w dist ." in commands


def test_the_emulator_pages_link_each_other() -> None:
    v1 = (DOCS / "emulator.md").read_text().split("\n## ", 1)[0]
    v3 = (DOCS / "emulator-realtime.md").read_text().split("\n## ", 1)[0]
    assert "(emulator-realtime.md)" in v1  # in the introduction, not only in a table row
    assert "(emulator.md)" in v3
    static = ROOT / "src" / "heygen_streaming" / "emulator" / "static"
    assert 'href="/static/v3.html"' in (static / "index.html").read_text()
    assert 'href="/"' in (static / "v3.html").read_text()


def test_one_story_for_the_default_quality() -> None:
    import inspect

    from heygen_streaming import StreamingClient
    from heygen_streaming.emulator.v1.api import DEFAULT_QUALITY

    sdk = inspect.signature(StreamingClient.session).parameters["quality"].default
    cli_default = {a.dest: a.default for a in _subcommands(build_parser())["demo"]._actions}
    page = (ROOT / "src" / "heygen_streaming" / "emulator" / "static" / "index.html").read_text()
    selected = re.search(r'<option value="(\w+)" selected>', page)
    assert selected is not None
    assert (sdk, cli_default["quality"], selected.group(1)) == ("high", "low", "low")
    story = section((DOCS / "concepts.md").read_text(), "Default quality")
    assert f"`{sdk}`" in story and "`low`" in story and f"`{DEFAULT_QUALITY}`" in story
    for page_name in ("cli.md", "emulator.md", "quickstart.md"):
        assert "concepts.md#default-quality" in (DOCS / page_name).read_text(), page_name


# -- LiveAvatar (issue 17), as a new user reads it ----------------------------------------


def test_docs_pages_link_other_pages_instead_of_naming_their_paths() -> None:
    # `docs/liveavatar.md` in a code span is no link in the built site (and in docs/ the
    # path is wrong anyway): the key holder had to find the page by hand.
    for page in DOCS.glob("*.md"):
        assert not re.search(r"`docs/[\w-]+\.md`", page.read_text()), page.name


def test_every_page_states_all_three_apis_where_it_lists_them() -> None:
    cli_page = (DOCS / "cli.md").read_text()
    table = cli_page.split("## Configuration", 1)[0]
    assert "| `live` | LiveAvatar" in table and "serves both" not in table
    assert "v1, Avatar Realtime and LiveAvatar" in section(cli_page, "`heygen-streaming emulator`")
    intro = (DOCS / "emulator.md").read_text().split("\n## ", 1)[0]
    assert "(emulator-liveavatar.md)" in intro
    testing = (DOCS / "testing.md").read_text()
    assert "LiveAvatar" in testing.split("\n## ", 1)[0]
    assert "## Testing a LiveAvatar app" in testing
    index = (DOCS / "index.md").read_text()
    assert "`heygen-streaming live`" in index
    stale = ("LiveAvatar coming", "LiveAvatar is coming", "once it lands")
    for path in [*DOCS.glob("*.md"), ROOT / "README.md", ROOT / "pyproject.toml"]:
        if path.name != "changelog.md":
            text = " ".join(path.read_text().split())
            assert not any(words in text for words in stale), path.name
    emulator_doc = ROOT / "src" / "heygen_streaming" / "emulator" / "__init__.py"
    assert "coming" not in emulator_doc.read_text()


def test_the_liveavatar_emulator_network_story_is_one_story() -> None:
    # libwebrtc sends no media over loopback; an emulator on 127.0.0.1 works wherever
    # another interface exists (checked in a namespace with a veth pair), not with only lo.
    guide = section((DOCS / "liveavatar.md").read_text(), "Against the emulator")
    assert "http://127.0.0.1:8000" in guide and "--network none" in guide
    assert "<your LAN address>" not in guide
    note = (DOCS / "emulator-liveavatar.md").read_text().split('!!! note "libwebrtc', 1)[1]
    note = " ".join(note.split("\n\n", 1)[0].split())
    assert "on `127.0.0.1` (the default) works" in note
    readme = section(README, "LiveAvatar: an interactive avatar")
    assert "LIVEAVATAR_BASE_URL=http://127.0.0.1:8000" in " ".join(readme.split())


def test_the_readme_liveavatar_example_records_the_answer_it_names() -> None:
    # Before: record("answer.mp4", duration=3.0) after respond(wait=True): 3 s of silence.
    code = FENCE.findall(section(README, "LiveAvatar: an interactive avatar"))[0][1]
    lines = code.splitlines()
    record = next(i for i, line in enumerate(lines) if "answer.mp4" in line)
    assert "s.recording(" in lines[record] and "respond(" in lines[record + 1]


def test_the_examples_page_promises_only_the_options_each_example_has() -> None:
    # Before: "Each one takes --api-key / --base-url"; the LiveAvatar examples have neither.
    page = (DOCS / "examples.md").read_text()
    intro = " ".join(page.split("\n| script", 1)[0].split())
    for script in sorted((ROOT / "examples").glob("[!_]*.py")):
        source = script.read_text()
        if '"--api-key"' in source or "_setup" in source:
            continue
        assert "the LiveAvatar ones read only" in intro, script.name
        assert script.name.startswith("liveavatar_"), script.name
