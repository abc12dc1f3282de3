"""Cold start: a fresh Python process, from launch to its first decoded video frame.

Two equivalent scripts open one low-quality session against the same emulator and stop at
the first frame: the SDK (`StreamingClient` -> ``session()`` -> ``video()``) and the raw
vendor flow on aiortc + httpx (`benchmarks._raw`). Runs alternate SDK / raw; the first
pair is a discarded warm-up (disk cache). Each child prints wall-clock marks; the parent
takes the launch time just before ``subprocess.Popen``.

Child: ``python -m benchmarks._cold sdk|raw BASE_URL API_KEY``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _mark(name: str) -> None:
    print(json.dumps({"mark": name, "t": time.time()}), flush=True)


async def _sdk(base_url: str, api_key: str) -> None:
    from heygen_streaming import StreamingClient

    _mark("imported")
    async with (
        StreamingClient(api_key=api_key, base_url=base_url) as client,
        client.session(quality="low") as s,
        s.video() as frames,
    ):
        async for _ in frames:
            _mark("first_frame")
            break


async def _raw(base_url: str, api_key: str) -> None:
    import httpx

    from ._raw import raw_open

    _mark("imported")
    async with httpx.AsyncClient() as http:
        raw = await raw_open(http, base_url, api_key, "low")
        try:
            await raw.tracks["video"].recv()
            _mark("first_frame")
        finally:
            await raw.close()


def _child(mode: str, base_url: str, api_key: str) -> None:
    import asyncio

    asyncio.run((_sdk if mode == "sdk" else _raw)(base_url, api_key))


def launch(mode: str, base_url: str, api_key: str, timeout: float = 60.0) -> dict[str, float]:
    """One cold run: ms from launch to the imports done and to the first frame."""
    cmd = [sys.executable, "-m", "benchmarks._cold", mode, base_url, api_key]
    t0 = time.time()
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False
    )
    marks = {
        m["mark"]: m["t"]
        for m in (json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{"))
    }
    if proc.returncode != 0 or "first_frame" not in marks:
        raise RuntimeError(f"cold {mode} run failed (rc={proc.returncode}): {proc.stderr[-2000:]}")
    return {name: (t - t0) * 1000 for name, t in marks.items()}


def _compile_bytecode() -> None:
    """Write the ``.pyc`` files of the SDK and of these scripts, as ``pip install`` does for
    an installed package (and did for aiortc, httpx and PyAV here). Without them, an editable
    install under ``PYTHONDONTWRITEBYTECODE=1`` compiles every SDK module on every start
    while the raw script's dependencies load precompiled."""
    import compileall

    import heygen_streaming

    for package in (Path(heygen_streaming.__file__).parent, ROOT / "benchmarks"):
        compileall.compile_dir(package, quiet=1)


def run_cold(base_url: str, api_key: str, reps: int) -> dict[str, Any]:
    """``reps`` alternating SDK / raw cold runs (after one discarded pair)."""
    _compile_bytecode()
    out: dict[str, list[float]] = {"sdk": [], "raw": [], "sdk_imported": [], "raw_imported": []}
    for i in range(reps + 1):
        for mode in ("sdk", "raw") if i % 2 == 0 else ("raw", "sdk"):
            marks = launch(mode, base_url, api_key)
            if i == 0:
                continue  # warm-up
            out[mode].append(marks["first_frame"])
            out[f"{mode}_imported"].append(marks["imported"])
    return dict(out)


if __name__ == "__main__":
    _child(*sys.argv[1:4])
