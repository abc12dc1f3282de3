"""LiveAvatar through the SDK against the same flow written raw (httpx + the official
``livekit`` client + ``websockets``), each run in a fresh process, alternating, in one run:

- **cold start**: process launch -> ``/v1/sessions/token`` -> ``/start`` -> room joined ->
  first video frame (FULL, ``low``); the SDK imports the LiveKit client while the two calls
  are answered, the raw script imports it first, as a script does;
- **speak -> avatar.speak_started** and **-> first voiced audio frame** (FULL);
- **client CPU per video frame** over a window, audio read too (the SDK converts each frame
  to PyAV, sharing the I420 buffer);
- **LITE audio sent -> first voiced avatar audio** (the same 600 ms first chunk).

``python -m benchmarks liveavatar-sdk [--reps N] [--window S] [--quality Q]`` (also in
``python -m benchmarks``, ``--only liveavatar_sdk``). Needs root and iproute2: the emulator
runs in one network namespace (its own process) and the clients in another.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from heygen_streaming.emulator.process import EmulatorProcess

from ._measure import summary
from ._runner import _progress

METHOD = """
## LiveAvatar: the SDK against the raw livekit flow

`benchmarks/liveavatar_sdk.py`: the emulator in its own process inside one network namespace,
each client a fresh process inside another (libwebrtc ignores loopback), SDK and raw runs
alternating after a discarded warm-up pair. The raw client (`benchmarks/_la_sdk_worker.py`)
is what a user writes without the SDK: httpx for token and start, the official `livekit`
client for the room, `websockets` for the LITE socket, the same 600 ms first chunk.

- **Cold start**: from the parent's launch to the first decoded video frame of a FULL
  session (`low`): interpreter, imports, token, start, room, first frame. The SDK imports
  the `livekit` client while `/token` is answered and PyAV while the room connects; against
  an emulator that answers in a few ms there is little server time to hide them behind.
- **speak → speak_started / → first voiced audio**: from the call (`s.speak()` / publishing
  `avatar.speak_text`) to the `avatar.speak_started` event, and to the first audio frame whose
  peak is over 1000 (int16); the SDK reads 20 ms frames, the raw client the client's 10 ms.
- **CPU per video frame**: process CPU time (all threads: the client's decoders included)
  over a window after one second of warm-up, divided by the video frames read; audio read
  too. The SDK hands out PyAV frames (I420 wrapped without a copy).
- **LITE audio sent → first voiced audio**: from `s.speak_audio(1 s of PCM)` (raw: base64 and
  send the first chunk) to the first voiced avatar audio frame.
"""

API_KEY = "bench-key"
ROOT = Path(__file__).resolve().parent
EMULATOR_ARGS = ("--la-rate-limit", "0", "--la-max-sessions", "50")


def _worker(net: Any, params: dict[str, Any]) -> dict[str, Any]:
    cmd = [*net.exec_args(net.ns_b), sys.executable, "-m", "benchmarks._la_sdk_worker"]
    launched = time.time()
    done = subprocess.run(
        [*cmd, json.dumps(params)], capture_output=True, text=True, timeout=180,
        cwd=ROOT.parent, check=False,
    )  # fmt: skip
    marks, result = {}, None
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            item = json.loads(line)
            if "mark" in item:
                marks[item["mark"]] = item["t"]
            elif "result" in item:
                result = item["result"]
    if done.returncode != 0 or result is None or "first_frame" not in marks:
        raise RuntimeError(f"worker {params} failed: {done.stderr[-3000:]}")
    result["cold_ms"] = 1000 * (marks["first_frame"] - launched)
    result["imported_ms"] = 1000 * (marks["imported"] - launched)
    return result


def run_liveavatar_sdk(
    reps: int = 3, window: float = 3.0, quality: str = "low", speaks: int = 3
) -> dict[str, Any]:
    """Every figure; ``{"skipped": reason}`` without network namespaces."""
    try:
        from tests.reliability._netns import VethPair, unavailable_reason
    except ImportError as exc:
        return {"skipped": f"run from the repository root ({exc})"}
    reason = unavailable_reason()
    if reason is not None:
        return {"skipped": reason}
    out: dict[str, Any] = {
        "config": {"reps": reps, "window_s": window, "quality": quality, "speaks": speaks},
        "sdk": [], "raw": [],
    }  # fmt: skip
    net = VethPair()
    try:
        prefix = tuple(net.exec_args(net.ns_a))
        with EmulatorProcess(
            API_KEY, host=net.server_ip, prefix=prefix, extra_args=EMULATOR_ARGS
        ) as emu:
            from heygen_streaming.emulator.liveavatar.catalog import AVATARS

            base = {"base_url": emu.base_url, "api_key": API_KEY, "avatar": AVATARS[0].id,
                    "quality": quality, "reps": speaks}  # fmt: skip
            _progress("LiveAvatar SDK vs raw: warm-up pair (discarded)")
            for mode in ("sdk", "raw"):
                _worker(net, {**base, "mode": mode, "kind": "full", "cpu_window": 0, "reps": 1})
            for i in range(reps):
                for mode in ("sdk", "raw") if i % 2 == 0 else ("raw", "sdk"):
                    _progress(f"LiveAvatar {mode}: FULL and LITE, run {i + 1}/{reps}")
                    full = _worker(
                        net, {**base, "mode": mode, "kind": "full", "cpu_window": window}
                    )
                    lite = _worker(net, {**base, "mode": mode, "kind": "lite", "cpu_window": 0})
                    out[mode].append({"full": full, "lite": lite})
    finally:
        net.close()
    return out


def _all(runs: list[dict[str, Any]], kind: str, key: str) -> list[float]:
    values: list[float] = []
    for run in runs:
        value = run[kind].get(key)
        values += value if isinstance(value, list) else [] if value is None else [value]
    return values


def _per_frame(runs: list[dict[str, Any]]) -> list[float]:
    return [
        1000 * r["full"]["cpu_s"] / r["full"]["video_frames"]
        for r in runs
        if r["full"].get("video_frames")
    ]


def rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The table rows (see `_runner.analyse`)."""
    if "skipped" in results:
        return [{"metric": "LiveAvatar SDK (skipped)", "unit": "—", "sdk": summary([]),
                 "baseline": summary([]), "ratio": None, "goal": results["skipped"]}]  # fmt: skip
    sdk, raw = results["sdk"], results["raw"]
    quality = results["config"]["quality"]
    out = []

    def pair(name: str, unit: str, a: list[float], b: list[float], goal: str) -> None:
        s, r = summary(a), summary(b)
        ratio = s["median"] / r["median"] if s["median"] is not None and r["median"] else None
        out.append({"metric": name, "unit": unit, "sdk": s, "baseline": r, "ratio": ratio,
                    "goal": goal})  # fmt: skip

    pair(f"LiveAvatar cold start: launch → token → start → first video frame ({quality})",
         "ms", _all(sdk, "full", "cold_ms"), _all(raw, "full", "cold_ms"),
         "ratio ≤ 1.0 (aim 0.85)")  # fmt: skip
    pair("… of which launch + imports", "ms", _all(sdk, "full", "imported_ms"),
         _all(raw, "full", "imported_ms"), "—")  # fmt: skip
    pair("LiveAvatar speak → avatar.speak_started", "ms", _all(sdk, "full", "speak_started"),
         _all(raw, "full", "speak_started"), "ratio ≤ 1.05")  # fmt: skip
    pair("LiveAvatar speak → first voiced audio", "ms", _all(sdk, "full", "voiced"),
         _all(raw, "full", "voiced"), "ratio ≤ 1.05")  # fmt: skip
    pair(f"LiveAvatar client CPU per video frame ({quality}, audio read too, PyAV frames)",
         "ms", _per_frame(sdk), _per_frame(raw), "ratio ≤ 1.1")  # fmt: skip
    pair("LiveAvatar LITE audio sent → first voiced avatar audio", "ms",
         _all(sdk, "lite", "lite_voiced"), _all(raw, "lite", "lite_voiced"), "—")  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks liveavatar-sdk", description=__doc__
    )
    parser.add_argument("--reps", type=int, default=3, help="SDK/raw process pairs")
    parser.add_argument("--speaks", type=int, default=3, help="speeches per process")
    parser.add_argument("--window", type=float, default=3.0, help="CPU window (seconds)")
    parser.add_argument("--quality", default="low", choices=["low", "medium", "high"])
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    from ._report import render_table
    from ._runner import machine

    started = time.perf_counter()
    results = run_liveavatar_sdk(args.reps, args.window, args.quality, args.speaks)
    table = {
        "rows": rows(results),
        "machine": machine(),
        "elapsed_s": time.perf_counter() - started,
    }
    if args.json:
        args.json.write_text(json.dumps({**results, **table}, indent=2))
    print(render_table(table))
