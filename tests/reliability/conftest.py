"""Fixtures of the reliability suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from heygen_streaming.emulator.process import EmulatorProcess

from ._leaks import API_KEY


@pytest.fixture(scope="module")
def emulator_process() -> Iterator[EmulatorProcess]:
    """An emulator in a separate process (shared by the tests of one module)."""
    with EmulatorProcess(API_KEY, stamp=True) as emu:
        yield emu
