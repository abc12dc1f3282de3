"""Soak: many open/speak/close cycles in one process leave nothing behind."""

from __future__ import annotations

import gc

import pytest

from heygen_streaming import StreamingClient
from heygen_streaming.emulator.process import EmulatorProcess

from ._leaks import API_KEY, Snapshot, open_fds

CYCLES = 200
WARMUP = 20


def _rss_mb() -> float:
    import os

    import psutil

    return float(psutil.Process(os.getpid()).memory_info().rss) / 2**20


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_soak_open_speak_close(emulator_process: EmulatorProcess) -> None:
    before = Snapshot.take()
    samples: list[tuple[int, float, int]] = []
    async with StreamingClient(api_key=API_KEY, base_url=emulator_process.base_url) as client:
        for i in range(CYCLES):
            async with client.session(quality="low") as s:
                task = await s.speak("Hi.")
                assert task.task_id
            if (i + 1) % WARMUP == 0:
                gc.collect()
                samples.append((i + 1, _rss_mb(), open_fds()))
        assert await client.list_sessions() == []
    await before.assert_no_leaks(fd_slack=2)
    _, rss_warm, fds_warm = samples[0]
    _, rss_end, fds_end = samples[-1]
    print(f"\nsoak RSS/fds per {WARMUP} cycles: {samples}")
    # A leaked peer, decoder or frame buffer costs megabytes per cycle; 15 MB over 180
    # cycles catches anything above ~80 kB per cycle.
    assert rss_end - rss_warm < 15, samples  # measured: ~1 MB over 180 cycles
    assert fds_end <= fds_warm + 2, samples
