"""Orchestrates the benchmark scenarios, prints the table and writes JSON / Markdown."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from heygen_streaming.emulator.process import EmulatorProcess

from ._cold import run_cold
from ._measure import summary
from ._report import render_markdown, render_table

API_KEY = "bench-key"
ROOT = Path(__file__).resolve().parent
DEFAULT_JSON = ROOT / "results" / "latest.json"


def machine() -> dict[str, Any]:
    """A description of the machine the figures come from."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        mem = f"{mem_kb / 2**20:.1f} GiB"
    except (OSError, StopIteration):
        mem = "unknown"

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "absent"

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "aiortc": version("aiortc"),
        "av": version("av"),
        "heygen-streaming": version("heygen-streaming"),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }


def run_worker(
    params: dict[str, Any], timeout: float, prefix: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Run one scenario in a fresh process; return its JSON result."""
    cmd = [*prefix, sys.executable, "-m", "benchmarks._worker", json.dumps(params)]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT.parent, check=False
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"worker {params['scenario']} failed (rc={proc.returncode}): {proc.stderr[-3000:]}"
        )
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _progress(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = args.quick
    reps = args.reps or (3 if quick else 10)
    cfg: dict[str, Any] = {
        "reps": reps,
        "latency_frames": 90 if quick else 300,
        "cpu_frames": 150 if quick else 450,
        "cpu_reps": 2 if quick else 3,
        "memory_seconds": 10.0 if quick else 30.0,
        "scale_ns": [1, 5, 10] if quick else [1, 5, 10, 15, 20, 30, 40],
        "scale_window": 4.0 if quick else 10.0,
    }
    results: dict[str, Any] = {"config": cfg, "machine": machine(), "quick": quick}
    every = ["cold", "ttff", "speak", "latency", "cpu", "memory", "scale", "liveavatar",
             "liveavatar_sdk"]  # fmt: skip
    only = set(args.only or every)
    started = time.perf_counter()
    with EmulatorProcess(API_KEY, stamp=True, extra_args=tuple(args.emulator_arg or ())) as emu:
        base = {"base_url": emu.base_url, "api_key": API_KEY}
        if "cold" in only:
            _progress(f"cold start (fresh process -> first frame) x{reps}, alternating")
            results["cold"] = run_cold(emu.base_url, API_KEY, reps)
        if "ttff" in only:
            _progress(f"time to first frame x{reps}")
            results["ttff"] = run_worker(
                {**base, "scenario": "ttff", "reps": reps, "quality": "low"}, 600
            )
        if "speak" in only:
            _progress(f"speak -> voiced audio x{reps}")
            results["speak"] = run_worker({**base, "scenario": "speak", "reps": reps}, 600)
        if "latency" in only:
            _progress("capture -> iterator latency at 720p")
            results["latency"] = run_worker(
                {**base, "scenario": "latency", "quality": "high", "frames": cfg["latency_frames"]},
                600,
            )
        if "cpu" in only:
            runs: dict[str, list[dict[str, Any]]] = {"sdk": [], "raw": []}
            for i in range(cfg["cpu_reps"]):
                for mode in ("sdk", "raw") if i % 2 == 0 else ("raw", "sdk"):
                    _progress(f"cpu {mode} run {i + 1}/{cfg['cpu_reps']}")
                    runs[mode].append(
                        run_worker(
                            {**base, "scenario": "cpu", "mode": mode, "quality": "low",
                             "frames": cfg["cpu_frames"]},
                            600,
                        )
                    )  # fmt: skip
            results["cpu"] = runs
        if "memory" in only:
            mem: dict[str, Any] = {}
            for mode in ("sdk", "raw"):
                _progress(f"memory {mode}: stalled reader for {cfg['memory_seconds']:g} s")
                mem[mode] = run_worker(
                    {**base, "scenario": "memory", "mode": mode, "quality": "high",
                     "seconds": cfg["memory_seconds"]},
                    600,
                )  # fmt: skip
            results["memory"] = mem
        if "scale" in only:
            steps: list[dict[str, Any]] = []
            for n in cfg["scale_ns"]:
                _progress(f"scale: {n} concurrent sessions")
                emu_proc = psutil.Process(emu.pid)
                cpu0, wall0 = sum(emu_proc.cpu_times()[:2]), time.perf_counter()
                try:
                    step = run_worker(
                        {**base, "scenario": "scale", "n": n, "window": cfg["scale_window"]}, 600
                    )
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    steps.append({"n": n, "error": str(exc)[-500:]})
                    break
                # Emulator CPU over the whole step (connects included), % of one core.
                step["emulator_cpu_pct"] = (
                    100 * (sum(emu_proc.cpu_times()[:2]) - cpu0) / (time.perf_counter() - wall0)
                )
                steps.append(step)
                if _delivered(step) < 0.95:
                    break
            results["scale"] = steps
    if "ttff" in only and args.rtt_ms > 0:
        results["ttff_rtt"] = ttff_over_link(args.rtt_ms, reps)
    if "liveavatar" in only:
        from .liveavatar import run_liveavatar

        results["liveavatar"] = run_liveavatar(quick)
    if "liveavatar_sdk" in only:
        from .liveavatar_sdk import run_liveavatar_sdk

        _progress("LiveAvatar: the SDK against the raw livekit flow")
        results["liveavatar_sdk"] = run_liveavatar_sdk(reps=2 if quick else 5)
    results["elapsed_s"] = time.perf_counter() - started
    results["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    return results


def ttff_over_link(rtt_ms: float, reps: int) -> dict[str, Any]:
    """Time to first frame with the emulator behind a delaying link (network namespaces).

    The emulator runs in one namespace, the worker in another, joined by the userspace TUN
    relay of the reliability suite (half the RTT each way). Needs root and iproute2.
    """
    try:
        from tests.reliability._netns import TunLink, unavailable_reason
    except ImportError as exc:
        return {"skipped": f"run from the repository root ({exc})"}
    reason = unavailable_reason()
    if reason is not None:
        return {"skipped": reason}
    _progress(f"time to first frame over a {rtt_ms:g} ms RTT link x{reps}")
    link = TunLink(delay_ms=rtt_ms / 2)
    try:
        with EmulatorProcess(
            API_KEY, host=link.server_ip, prefix=tuple(link.exec_args(link.ns_a)), stamp=True
        ) as emu:
            params = {"base_url": emu.base_url, "api_key": API_KEY, "scenario": "ttff",
                      "reps": reps, "quality": "low"}  # fmt: skip
            result = run_worker(params, 600, prefix=tuple(link.exec_args(link.ns_b)))
    finally:
        link.close()
    result["rtt_ms"] = rtt_ms
    return result


def nominal_fps() -> float:
    """The emulator's video frame rate."""
    try:
        from heygen_streaming.emulator.avatar import FPS
    except ImportError:
        return 25.0
    return float(FPS)


def _delivered(step: dict[str, Any]) -> float:
    """Frames read per session over the window, relative to the emulator's nominal rate."""
    if "frames" not in step:
        return 0.0
    expected = nominal_fps() * float(step["window_s"]) * int(step["n"])
    return float(sum(step["frames"])) / expected


def analyse(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of the result table (medians, p95, ratio to the baseline, goal)."""
    rows: list[dict[str, Any]] = []

    def pair(name: str, unit: str, sdk: list[float], raw: list[float], goal: str) -> None:
        s, r = summary(sdk), summary(raw)
        ratio = s["median"] / r["median"] if s["median"] is not None and r["median"] else None
        rows.append({"metric": name, "unit": unit, "sdk": s, "baseline": r, "ratio": ratio,
                     "goal": goal})  # fmt: skip

    if "cold" in results:
        c = results["cold"]
        pair("Cold start: process launch → first video frame (low)", "ms", c["sdk"], c["raw"],
             "ratio ≤ 1.0 (aim 0.85)")  # fmt: skip
        pair("… of which launch + imports", "ms", c["sdk_imported"], c["raw_imported"], "—")
    if "ttff" in results:
        t = results["ttff"]
        pair("Time to first video frame (low)", "ms", t["sdk"], t["raw"], "ratio ≤ 0.8")
        pair("… until `session()` is entered (connected)", "ms", t["sdk_entered"], t["raw"], "—")
    if results.get("ttff_rtt", {}).get("sdk"):
        t = results["ttff_rtt"]
        rtt = f"{t['rtt_ms']:g} ms RTT"
        pair(f"Time to first video frame, {rtt} link", "ms", t["sdk"], t["raw"], "ratio ≤ 0.8")
        pair(f"… until `session()` is entered, {rtt}", "ms", t["sdk_entered"], t["raw"], "—")
    if "speak" in results:
        t = results["speak"]
        pair("speak() → first voiced audio frame", "ms", t["sdk"], t["raw"], "—")
    if "latency" in results:
        t = results["latency"]
        pair("Capture → iterator latency (720p)", "ms", t["sdk"], t["raw"], "SDK p50 ≤ 50 ms")
    if "cpu" in results:
        c = results["cpu"]
        frames = results["config"]["cpu_frames"]
        per = [1000 * r["cpu_s"] / frames for r in c["sdk"]]
        base = [1000 * r["cpu_s"] / frames for r in c["raw"]]
        pair("Client CPU per video frame (low, audio read too)", "ms", per, base, "ratio ≤ 1.05")
        pair(
            "Frames missing/dropped during the CPU run",
            "frames",
            [float(r.get("missing", 0) + r["dropped"]) for r in c["sdk"]],
            [float(r.get("missing", 0)) for r in c["raw"]],
            "—",
        )
    if "memory" in results:
        m = results["memory"]
        secs = results["config"]["memory_seconds"]
        pair(
            f"RSS growth, stalled reader, 720p, {secs:g} s",
            "MB",
            [m["sdk"]["end_mb"] - m["sdk"]["start_mb"]],
            [m["raw"]["end_mb"] - m["raw"]["start_mb"]],
            "SDK ≤ 50 MB",
        )
    v1_knee: int | None = None
    if results.get("scale"):
        steps = results["scale"]
        ok = [s for s in steps if "frames" in s and _delivered(s) >= 0.95]
        knee = v1_knee = max((s["n"] for s in ok), default=0)
        fps = nominal_fps()
        for s in steps:
            if "frames" in s:
                s["delivered"] = _delivered(s)
                s["rss_per_session_mb"] = (s["rss_end_mb"] - s["rss_before_mb"]) / s["n"]
                spans = s["sent_spans"] or [0]
                s["sent_fraction"] = sum(spans) / len(spans) / (fps * s["window_s"])
        good = [s for s in steps if "rss_end_mb" in s]
        if len(good) >= 2:
            lo, hi = good[0], good[-1]
            marginal = (hi["rss_end_mb"] - lo["rss_end_mb"]) / (hi["n"] - lo["n"])
            rows.append({"metric": f"RSS per extra session (low, {lo['n']}→{hi['n']} sessions)",
                         "unit": "MB", "sdk": summary([marginal]), "baseline": summary([]),
                         "ratio": None, "goal": "—"})  # fmt: skip
        last = steps[-1]
        rows.append({
            "metric": "Scale knee: most sessions with ≥ 95 % frames delivered",
            "unit": "sessions", "sdk": summary([float(knee)]), "baseline": summary([]),
            "ratio": None,
            "goal": f"tried {', '.join(str(s['n']) for s in steps)}; "
                    f"last step {last.get('delivered', 0) * 100:.0f} % delivered",
        })  # fmt: skip
    if "liveavatar" in results:
        from .liveavatar import rows as liveavatar_rows

        rows.extend(liveavatar_rows(results["liveavatar"], v1_knee))
    if "liveavatar_sdk" in results:
        from .liveavatar_sdk import rows as liveavatar_sdk_rows

        rows.extend(liveavatar_sdk_rows(results["liveavatar_sdk"]))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short run (~2 min)")
    parser.add_argument("--reps", type=int, default=0, help="repetitions per latency metric")
    parser.add_argument(
        "--only",
        action="append",
        choices=[
            "cold",
            "ttff",
            "speak",
            "latency",
            "cpu",
            "memory",
            "scale",
            "liveavatar",
            "liveavatar_sdk",
        ],
        help="run only these scenarios (repeatable)",
    )
    parser.add_argument(
        "--rtt-ms",
        type=float,
        default=50.0,
        help="also measure time to first frame over a link with this RTT (0: skip; root)",
    )
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write JSON")
    parser.add_argument("--markdown", type=Path, help="also write the docs page here")
    parser.add_argument(
        "--emulator-arg", action="append", help="extra argument for the emulator CLI"
    )
    parser.add_argument(
        "--from-json", type=Path, help="do not run: re-render the table from this JSON file"
    )
    args = parser.parse_args(argv)
    if args.from_json:
        results = json.loads(args.from_json.read_text())
    else:
        results = run(args)
        results["command"] = "python -m benchmarks " + " ".join(
            sys.argv[1:] if argv is None else argv
        )
        results["date"] = time.strftime("%Y-%m-%d %H:%M %Z")
    results["rows"] = analyse(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(render_table(results))
    print(f"\nJSON written to {args.json}")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(render_markdown(results))
        print(f"Markdown written to {args.markdown}")
