"""Benchmarks of heygen-streaming against the emulator (run ``python -m benchmarks``).

Every scenario runs in a fresh worker process against an emulator in another process, and
each SDK figure is paired with a raw aiortc + httpx baseline measured in the same run.
"""
