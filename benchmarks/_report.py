"""Render benchmark results as a console table and as the docs page."""

from __future__ import annotations

import time
from typing import Any


def _num(value: Any) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _cells(row: dict[str, Any]) -> list[str]:
    ratio = "—" if row["ratio"] is None else f"{row['ratio']:.2f}×"
    return [
        f"{row['metric']} ({row['unit']})",
        _num(row["sdk"]["median"]),
        _num(row["sdk"]["p95"]),
        _num(row["baseline"]["median"]),
        _num(row["baseline"]["p95"]),
        ratio,
        row["goal"],
    ]


HEADERS = ["Metric", "SDK p50", "SDK p95", "Raw p50", "Raw p95", "SDK/raw", "Goal / note"]


def render_table(results: dict[str, Any]) -> str:
    """Fixed-width text table for the console."""
    rows = [HEADERS] + [_cells(r) for r in results["rows"]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADERS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    m = results["machine"]
    lines.append("")
    lines.append(
        f"{m['cpu']}, {m['cores']} cores, {m['memory']}, {m['os']}, Python {m['python']}, "
        f"aiortc {m['aiortc']}, av {m['av']}; run took {results['elapsed_s']:.0f} s"
    )
    return "\n".join(lines)


def _scale_table(steps: list[dict[str, Any]]) -> list[str]:
    out = [
        "| Sessions | All connected in (s) | Frames read/session | Read vs nominal 25 fps "
        "| Emulator sent vs nominal | RSS/session (MB) | Client CPU | Emulator CPU |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in steps:
        if "frames" not in s:
            out.append(f"| {s['n']} | failed: {s.get('error', '')[:80]} | | | | | | |")
            continue
        window = s.get("window_s") or 1.0
        cpu = 100 * s["client_cpu_s"] / window if s.get("window_s") else None
        emu_cpu = s.get("emulator_cpu_pct")
        out.append(
            f"| {s['n']} | {s['connect_s']:.1f} | {sum(s['frames']) / s['n']:.0f} "
            f"| {s.get('delivered', 0) * 100:.0f} % | {s.get('sent_fraction', 0) * 100:.0f} % "
            f"| {s.get('rss_per_session_mb', 0):.1f} | {_num(cpu)} % "
            f"| {_num(emu_cpu)} % |"
        )
    return out


def render_markdown(results: dict[str, Any]) -> str:
    """The body of docs/benchmarks.md."""
    m = results["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Figures from one run of the benchmark suite against the emulator running in a",
        "separate process on the same machine (loopback). Each SDK figure is paired with a",
        "raw baseline measured in the same run: the vendor's v1 flow written step by step on",
        "plain aiortc + httpx (`benchmarks/_raw.py`).",
        "",
        "Reproduce with:",
        "",
        "```bash",
        results["command"],
        "```",
        "",
        "It prints the table below and writes JSON to `benchmarks/results/latest.json`",
        "(`--quick` gives a ~2 minute run with fewer repetitions).",
        "",
        f"**Machine**: {m['cpu']}, {m['cores']} cores, {m['memory']} RAM, {m['os']}, "
        f"Python {m['python']}, aiortc {m['aiortc']}, av {m['av']}. "
        f"Run on {time.strftime('%Y-%m-%d')}, took {results['elapsed_s']:.0f} s.",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in results["rows"]]
    if results.get("scale"):
        lines += ["", "## Scale", "", *_scale_table(results["scale"])]
    lines += ["", METHOD.strip()]
    return "\n".join(lines) + "\n"


METHOD = """
## Method

- **Emulator**: `python -m heygen_streaming.emulator --port 0` in its own process, sharing
  the machine's cores with the client; every scenario runs in a fresh client process
  (`python -m benchmarks._worker`).
- **Time to first video frame**: from the call to `client.session(quality="low")` to the
  first frame out of `s.video()`, versus the raw flow (`streaming.new` → answer → each
  candidate posted one by one → `streaming.start` → first `track.recv()`) on the same
  `httpx.AsyncClient` reuse terms (one client for the whole run, so only the flow differs).
  SDK and raw connects alternate; the first of each is a discarded warm-up.
- **speak() → first voiced audio frame**: an audio reader timestamps every frame's RMS
  level; the threshold is 4× the idle level's p95 (at least 0.02 of full scale). Between
  repetitions the speech is interrupted and the test waits for 10 quiet frames. The raw
  baseline posts `streaming.task` and reads `track.recv()`.
- **Capture → iterator latency**: every emulator frame carries its index and wall-clock send
  time (`heygen_streaming.emulator.stamp`), written before encoding; latency is the time the
  frame reaches the reader minus that stamp (same machine, same clock). The emulator sends
  25 fps, so "720p30" in the goal reads "720p at the emulator's 25 fps".
- **CPU per frame**: process CPU time (`time.process_time`, all threads: decoders included)
  over a fixed number of video frames after 30 warm-up frames, audio read concurrently;
  SDK iteration of `s.video()` / `s.audio()` versus raw `recv()` loops on both tracks.
  Missing = frames the sender stamped in that span that the reader never got; dropped =
  the SDK stream's drop-oldest counter.
- **Memory**: RSS growth while nothing reads the 720p stream after the first frame (SDK:
  bounded drop-oldest streams; raw: aiortc's unbounded track queue).
- **Scale**: N concurrent low-quality sessions from one `StreamingClient` in one process;
  frames read per session over the window versus the emulator's nominal 25 fps. The knee is
  the largest N still at ≥ 95 %. Emulator and client share the 2 cores, so the knee is the
  pair's, not the SDK's alone: "Emulator sent vs nominal" (from the frame stamps' index span)
  shows whether frames were missing because the emulator could not produce them or because
  the client did not read them. CPU columns are % of one core over the step. RSS per session = (RSS at the end of the window − RSS before)/N.
"""
