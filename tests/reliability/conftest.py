"""Fixtures of the reliability suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._leaks import API_KEY
from ._proc import EmulatorProcess


@pytest.fixture(scope="module")
def emulator_process() -> Iterator[EmulatorProcess]:
    """An emulator in a separate process (shared by the tests of one module)."""
    with EmulatorProcess(API_KEY) as emu:
        yield emu
