"""LiveAvatar: the emulator's CPU per session at 720p, and how many concurrent sessions the
machine holds at >= 95 % of the video frames, watched by the official ``livekit`` client.

``python -m benchmarks liveavatar [--quick] [--reps N]`` (also part of ``python -m benchmarks``,
``--only liveavatar``). Needs root and iproute2: libwebrtc ignores loopback, so the emulator
(its own process) runs in one network namespace and the viewers (one process, N rooms,
`_la_worker`) in another, joined by a veth pair. Emulator and viewers share the machine's
cores: the knee is where either runs out, as for v1's scale figure (knee: 20 sessions).

- **CPU per session**: one FULL session at ``high`` (1280x720, 25 fps, H.264 encoded per
  viewer by aiortc, Opus audio), one viewer decoding it; the emulator process's CPU over the
  window, in % of one core.
- **Scale**: N sessions at ``low`` (640x360), one viewer each; frames decoded over the window
  against N x 25 fps; N grows until under 95 %.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from heygen_streaming.emulator.process import EmulatorProcess

from ._measure import summary
from ._runner import _progress

API_KEY = "bench-key"
ROOT = Path(__file__).resolve().parent
FPS = 25.0
EMULATOR_ARGS = (
    "--la-rate-limit", "0", "--la-max-sessions", "200",
    "--max-sessions", "200", "--max-total-sessions", "400",
)  # fmt: skip


def _cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system + times.children_user + times.children_system)


def measure(
    emu: EmulatorProcess, net: Any, n: int, quality: str, window: float, codec: str = "H264"
) -> dict[str, Any]:
    """One step: N sessions watched for ``window`` seconds."""
    params = {"base_url": emu.base_url, "api_key": API_KEY, "n": n, "quality": quality,
              "window": window, "encoding": codec}  # fmt: skip
    cmd = [
        *net.exec_args(net.ns_b),
        sys.executable,
        "-m",
        "benchmarks._la_worker",
        json.dumps(params),
    ]
    worker = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT.parent
    )
    emulator, client = psutil.Process(emu.pid), psutil.Process(worker.pid)
    start: tuple[float, float, float] | None = None
    assert worker.stdout is not None
    try:
        for line in worker.stdout:
            event = json.loads(line) if line.startswith("{") else {}
            if event.get("event") == "window_start":
                start = (_cpu(emulator), _cpu(client), time.perf_counter())
            elif event.get("event") == "window_end" and start is not None:
                wall = time.perf_counter() - start[2]
                frames = event["frames"]
                return {
                    "n": n,
                    "quality": quality,
                    "codec": codec,
                    "frames": frames,
                    "audio_frames": event["audio_frames"],
                    "window_s": event["window_s"],
                    "connect_s": event["connect_s"],
                    "delivered": sum(frames) / (FPS * event["window_s"] * n),
                    "emulator_cpu_pct": 100 * (_cpu(emulator) - start[0]) / wall,
                    "client_cpu_pct": 100 * (_cpu(client) - start[1]) / wall,
                }
        stderr = worker.stderr.read() if worker.stderr is not None else ""
        raise RuntimeError(f"the viewer worker ended early: {stderr[-2000:]}")
    finally:
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()


def run_liveavatar(
    quick: bool, reps: int = 0, ns: list[int] | None = None, window: float = 0.0
) -> dict[str, Any]:
    """Both figures; ``{"skipped": reason}`` without network namespaces."""
    try:
        from tests.reliability._netns import VethPair, unavailable_reason
    except ImportError as exc:
        return {"skipped": f"run from the repository root ({exc})"}
    reason = unavailable_reason()
    if reason is not None:
        return {"skipped": reason}
    reps = reps or (1 if quick else 3)
    window = window or (3.0 if quick else 10.0)
    ns = ns or ([1, 2] if quick else [1, 5, 10, 15, 20, 25, 30])
    out: dict[str, Any] = {"config": {"reps": reps, "window_s": window, "ns": ns}}
    net = VethPair()
    try:
        prefix = tuple(net.exec_args(net.ns_a))
        with EmulatorProcess(
            API_KEY, host=net.server_ip, prefix=prefix, extra_args=EMULATOR_ARGS
        ) as emu:
            out["cpu_720p"], out["cpu_720p_vp8"] = [], []
            for i in range(reps):
                _progress(f"LiveAvatar: one 720p session, run {i + 1}/{reps} (H.264, VP8)")
                out["cpu_720p"].append(measure(emu, net, 1, "high", window))
                out["cpu_720p_vp8"].append(measure(emu, net, 1, "high", window, "VP8"))
            out["scale"] = []
            for n in ns:
                _progress(f"LiveAvatar scale: {n} concurrent sessions")
                try:
                    step = measure(emu, net, n, "low", window)
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    out["scale"].append({"n": n, "error": str(exc)[-500:]})
                    break
                out["scale"].append(step)
                if step["delivered"] < 0.95:
                    break
    finally:
        net.close()
    return out


def rows(results: dict[str, Any], v1_knee: int | None = None) -> list[dict[str, Any]]:
    """The table rows for `results` (see `_runner.analyse`)."""
    if "skipped" in results:
        return [{"metric": "LiveAvatar (skipped)", "unit": "—", "sdk": summary([]),
                 "baseline": summary([]), "ratio": None, "goal": results["skipped"]}]  # fmt: skip
    out = []
    for key, codec in (("cpu_720p", "H.264, the default"), ("cpu_720p_vp8", "VP8")):
        cpu = [r["emulator_cpu_pct"] for r in results.get(key, [])]
        client = [r["client_cpu_pct"] for r in results.get(key, [])]
        out.append(
            {
                "metric": f"LiveAvatar: emulator CPU per session (720p {codec}, one viewer)",
                "unit": "% core",
                "sdk": summary(cpu),
                "baseline": summary([]),
                "ratio": None,
                "goal": f"viewer (official livekit client) {_fmt(client)} % core",
            }
        )
    steps = results.get("scale", [])
    ok = [s for s in steps if s.get("delivered", 0) >= 0.95]
    knee = max((s["n"] for s in ok), default=0)
    tried = ", ".join(
        f"{s['n']}: {s['delivered'] * 100:.0f} % (emu {s['emulator_cpu_pct']:.0f} %, "
        f"viewers {s['client_cpu_pct']:.0f} %)"
        if "delivered" in s
        else f"{s['n']}: error"
        for s in steps
    )
    v1 = "v1's knee: --only scale" if v1_knee is None else f"v1's knee in this run: {v1_knee}"
    out.append(
        {
            "metric": "LiveAvatar scale knee: sessions at ≥ 95 % frames (low, official viewers)",
            "unit": "sessions",
            "sdk": summary([float(knee)]),
            "baseline": summary([]),
            "ratio": None,
            "goal": f"{v1}; tried {tried}",
        }
    )
    return out


def _fmt(values: list[float]) -> str:
    return f"{sorted(values)[len(values) // 2]:.0f}" if values else "—"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks liveavatar", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1 and 2 sessions, 3 s windows")
    parser.add_argument("--reps", type=int, default=0, help="720p CPU runs")
    parser.add_argument("--ns", help="scale steps, e.g. 1,5,10 (default 1,5,...,30)")
    parser.add_argument("--window", type=float, default=0.0, help="seconds measured per step")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    steps = [int(n) for n in args.ns.split(",")] if args.ns else None
    from ._report import render_table
    from ._runner import machine

    started = time.perf_counter()
    results = run_liveavatar(args.quick, args.reps, steps, args.window)
    table = {
        "rows": rows(results),
        "machine": machine(),
        "elapsed_s": time.perf_counter() - started,
    }
    if args.json:
        args.json.write_text(json.dumps({**results, **table}, indent=2))
    print(render_table(table))
