"""The ``heygen_emulator`` pytest plugin, run as a user runs it: pytest in a subprocess, on
test files outside this repository (so none of our conftest applies)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from _env import clean_env

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"```(\w*)\n(.*?)```", re.S)


def docs_example() -> dict[str, str]:
    """The files under "A complete test file" in docs/testing.md: the Python block
    (``test_greeter.py``) and the ``pytest.ini`` block."""
    text = (ROOT / "docs" / "testing.md").read_text()
    section = text.split("## A complete test file", 1)[1].split("\n## ", 1)[0]
    blocks = [body for lang, body in FENCE.findall(section) if lang == "python"]
    ini = [body for lang, body in FENCE.findall(section) if lang == "ini"]
    assert len(blocks) == 1 and len(ini) == 1
    return {"test_greeter.py": blocks[0], "pytest.ini": ini[0]}


def run_pytest(tmp_path: Path, files: dict[str, str], *args: str) -> str:
    for name, code in files.items():
        (tmp_path / name).write_text(code)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result.stdout + result.stderr


@pytest.mark.timeout(180)
@pytest.mark.parametrize("scope", ["function", "session"])
def test_the_docs_example_passes(tmp_path: Path, scope: str) -> None:
    out = run_pytest(tmp_path, docs_example(), f"--heygen-emulator-scope={scope}")
    assert "3 passed" in out
    assert "Warning" not in out, out  # e.g. pytest-asyncio's unset loop scope, every run


SHARED = """
import asyncio
import pytest

PORTS = []


def test_sync_test_and_asyncio_run(heygen_emulator):
    async def go():
        async with heygen_emulator.client() as client:
            return await client.list_sessions()

    assert asyncio.run(go()) == []
    PORTS.append(heygen_emulator.base_url)


@pytest.mark.asyncio(loop_scope="module")
async def test_module_loop_faults_reach_the_server(heygen_emulator):
    heygen_emulator.faults.fail("list", 500, times=5)
    async with heygen_emulator.client(max_retries=0) as client:
        with pytest.raises(Exception, match="500"):
            await client.list_sessions()
    PORTS.append(heygen_emulator.base_url)


@pytest.mark.asyncio
async def test_faults_were_cleared_and_the_server_is_shared(heygen_emulator):
    async with heygen_emulator.client(max_retries=0) as client:
        assert await client.list_sessions() == []
    PORTS.append(heygen_emulator.base_url)
    assert len(set(PORTS)) == 1


def test_a_fault_name_typo_raises_with_the_valid_names(heygen_emulator):
    with pytest.raises(ValueError, match="unknown endpoint 'speak'; valid names: .*task"):
        heygen_emulator.faults.fail("speak", 500)
    heygen_emulator.faults.fail("liveavatar_start", kind="disconnect")  # no status needed
"""


@pytest.mark.timeout(120)
def test_session_scope_from_ini_any_loop_scope_and_faults_cleared(tmp_path: Path) -> None:
    files = {
        "pytest.ini": "[pytest]\nheygen_emulator_scope = session\n",
        "test_shared.py": SHARED,
    }
    assert "4 passed" in run_pytest(tmp_path, files)


LEAKS = """
import httpx
import pytest

TOKENS = []
STREAM = {"type": "text_stream", "avatar_id": "a", "voice_id": "v", "text": "Hello"}


def http(emu):
    return httpx.Client(base_url=emu.base_url, headers={"x-api-key": emu.api_key}, timeout=30)


def open_everything(emu):
    with http(emu) as h:
        assert h.get("/v1/streaming.list").json()["data"]["sessions"] == []
        assert h.post("/v1/streaming.new", json={"quality": "low"}).json()["code"] == 100
        created = [h.post("/v3/avatar-realtime", json=STREAM) for _ in range(3)]
        assert [r.status_code for r in created] == [201, 201, 201], created[-1].text
        token = h.post("/v1/streaming.create_token").json()["data"]["token"]
        for earlier in TOKENS:  # tokens of earlier tests are forgotten
            bearer = {"x-api-key": "", "Authorization": f"Bearer {earlier}"}
            assert h.get("/v1/streaming.list", headers=bearer).status_code == 401
        TOKENS.append(token)


@pytest.mark.parametrize("n", range(3))
def test_leaks_sessions_streams_and_tokens(heygen_emulator, n):
    open_everything(heygen_emulator)  # and leaves them all open


@pytest.mark.asyncio(loop_scope="module")
async def test_async_test_starts_clean_too(heygen_emulator):
    open_everything(heygen_emulator)
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize("scope", ["session", "module"])
def test_shared_emulator_starts_each_test_without_earlier_sessions(
    tmp_path: Path, scope: str
) -> None:
    """v1 sessions, v3 streams (the key's limit: 3) and tokens of one test are gone in the
    next, whatever the fixture's scope."""
    out = run_pytest(tmp_path, {"test_leaks.py": LEAKS}, f"--heygen-emulator-scope={scope}")
    assert "4 passed" in out


def test_plugin_import_is_cheap() -> None:
    code = (
        "import sys, heygen_streaming.testing.plugin\n"
        "print(sorted(m for m in ('aiohttp', 'aiortc', 'av', 'httpx', 'pydantic')"
        " if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
