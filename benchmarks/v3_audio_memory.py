"""Memory of the emulator under ``audio``-mode decompression bombs (issue 18, item 2).

``python -m benchmarks.v3_audio_memory [--total]``

Each scenario starts a fresh emulator process (any-key mode, so that several keys can be
used), warms it up with one short stream, resets its peak RSS (``/proc/PID/clear_refs``),
then creates the streams, waits until each is ``streaming`` or refused, and prints the
process's peak and current RSS growth over the warm baseline. ``--total`` adds the
emulator-wide limit: 24 streams (8 keys x 3) of 590 s audio (costly: 24 live encoders).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import httpx
from tests.e2e._audio import audio_body, memory_mib, reset_peak, silent_flac

from heygen_streaming.emulator.process import EmulatorProcess

BASE = "/v3/avatar-realtime"
TTS = {"type": "tts", "avatar_id": "a", "voice_id": "v", "text": "Hello there, how are you?"}


def run(name: str, body: dict[str, Any], streams: int) -> dict[str, Any]:
    """One scenario: ``streams`` creates of ``body`` (3 per key) on a fresh emulator."""
    with EmulatorProcess("") as emu, httpx.Client(base_url=emu.base_url, timeout=120) as http:
        warm = http.post(BASE, json=TTS, headers={"x-api-key": "warm"}).json()["data"]
        _wait(http, "warm", [warm["stream_id"]])
        http.post(f"{BASE}/{warm['stream_id']}/cancel", headers={"x-api-key": "warm"})
        reset_peak(emu.pid)
        base = memory_mib(emu.pid)
        t0 = time.perf_counter()
        created: list[tuple[str, str]] = []
        codes: list[int] = []
        for i in range(streams):
            key = f"key-{i // 3}"
            response = http.post(BASE, json=body, headers={"x-api-key": key})
            codes.append(response.status_code)
            if response.status_code == 201:
                created.append((key, response.json()["data"]["stream_id"]))
        for key in {k for k, _ in created}:
            _wait(http, key, [s for k, s in created if k == key])
        seconds = time.perf_counter() - t0
        now = memory_mib(emu.pid)
        for key, stream_id in created:
            http.post(f"{BASE}/{stream_id}/cancel", headers={"x-api-key": key})
    return {
        "scenario": name,
        "answers": ",".join(sorted({str(c) for c in codes})),
        "baseline MiB": base["rss"],
        "peak +MiB": now["peak"] - base["rss"],
        "held +MiB": now["rss"] - base["rss"],
        "seconds": round(seconds, 1),
    }


def _wait(http: httpx.Client, key: str, ids: list[str], within: float = 120.0) -> None:
    deadline = time.monotonic() + within
    pending = set(ids)
    while pending and time.monotonic() < deadline:
        for stream_id in list(pending):
            data = http.get(f"{BASE}/{stream_id}", headers={"x-api-key": key}).json()["data"]
            if data["status"] != "pending":
                pending.discard(stream_id)
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.v3_audio_memory")
    parser.add_argument("--total", action="store_true", help="also 24 streams (8 keys)")
    args = parser.parse_args(argv)
    bomb = audio_body(silent_flac(3600))
    long = audio_body(silent_flac(590))
    print(f"bomb: 3,600 s FLAC silence, {len(bomb['audio']['data']) >> 10} KiB of base64")
    scenarios: list[tuple[str, dict[str, Any], int]] = [
        ("tts x3 (reference)", TTS, 3),
        ("bomb x1", bomb, 1),
        ("bomb x3 (one key)", bomb, 3),
        ("590 s audio x1", long, 1),
        ("590 s audio x3 (one key)", long, 3),
    ]
    if args.total:
        scenarios.append(("590 s audio x24 (8 keys)", long, 24))
    rows = [run(name, body, n) for name, body, n in scenarios]
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + " --- |" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")


if __name__ == "__main__":
    main()
