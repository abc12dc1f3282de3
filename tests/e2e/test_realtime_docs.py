"""The example at the top of docs/realtime.md runs as written (against the scripted server)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ._realtime_scripted import API_KEY, Clip, ScriptedRealtime, make_clip, serve

PAGE = Path(__file__).resolve().parents[2] / "docs" / "realtime.md"
FENCE = re.compile(r"```(\w*)\n(.*?)```", re.S)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("docs"), "fmp4")


@pytest.fixture
async def server(clip: Clip) -> AsyncIterator[ScriptedRealtime]:
    async for s in serve(clip):
        s.publish(1)
        yield s


def example() -> str:
    blocks = [body for lang, body in FENCE.findall(PAGE.read_text()) if lang == "python"]
    code = blocks[0].rstrip()
    assert code.endswith("asyncio.run(main())")
    return code.removesuffix("asyncio.run(main())")  # we are inside a loop already


async def test_docs_example_runs(
    server: ScriptedRealtime,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HEYGEN_API_KEY", API_KEY)
    monkeypatch.setenv("HEYGEN_BASE_URL", server.base_url)
    namespace: dict[str, object] = {}
    exec(compile(example(), str(PAGE), "exec"), namespace)
    main = asyncio.ensure_future(namespace["main"]())  # type: ignore[operator]
    final = asyncio.ensure_future(server.final_seen.wait())
    await asyncio.wait({main, final}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    assert final.done(), main.exception() if main.done() else "no final delta within 30 s"
    server.publish(end=True)  # the script was spoken: the stream ends
    await asyncio.wait_for(main, 30)
    out = capsys.readouterr().out
    assert "first frame 320 x 180" in out
    assert "Hello" in out
    assert "final_marker: wrote clip.mp4 (3.0 s)" in out
    assert (tmp_path / "clip.mp4").stat().st_size > 0
