"""Shared fixtures (an in-process emulator and its coordinates) and the suite's skip policy.

Tests that need a system tool carry ``@pytest.mark.requires_tool("ffprobe", package="ffmpeg")``:
they skip, naming the Debian package, when the tool is not on ``PATH``. With
``HEYGEN_REQUIRE_ALL=1`` (set by ``.ci/run``) every skip becomes a failure instead.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import AsyncIterator, Generator, Iterator

import pytest

from _env import missing_tool, require_all
from heygen_streaming._http import retry as _retry
from heygen_streaming.emulator import Emulator

API_KEY = "test-key"


def pytest_configure(config: pytest.Config) -> None:
    # Tests press Ctrl-C in child processes (SIGINT), which inherit an ignored SIGINT from
    # a suite started in the background by a script (`cmd &` without job control): they
    # would ignore it too. A user's Ctrl-C reaches a foreground CLI: make that the case.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    config.addinivalue_line(
        "markers",
        "requires_tool(tool, package): skip unless the executable `tool` is on PATH "
        "(the reason names the Debian `package`)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("requires_tool"):
        tool = mark.args[0]
        package = mark.kwargs.get("package", tool)
        reason = missing_tool(tool, package)
        if reason is not None:
            pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.skipped and require_all() and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped, but HEYGEN_REQUIRE_ALL is set (CI runs every test): {reason}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under ``HEYGEN_REQUIRE_ALL``, a skip that escaped the hook above (collection) fails too."""
    if not require_all():
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _library_logger_state() -> Iterator[None]:
    """The CLI's `main()`, run in-process by some tests, sets the library logger's level.

    Put it back after every test, so that a later test's ``caplog`` sees the records.
    """
    logger = logging.getLogger("heygen_streaming")
    level, propagate, handlers = logger.level, logger.propagate, list(logger.handlers)
    yield
    logger.setLevel(level)
    logger.propagate = propagate
    logger.handlers[:] = handlers


@pytest.fixture
def api_key() -> str:
    """The API key the ``emulator`` fixture accepts."""
    return API_KEY


@pytest.fixture
async def emulator(api_key: str) -> AsyncIterator[Emulator]:
    """A fresh in-process emulator on 127.0.0.1 (random port, frame stamps on), closed after."""
    async with Emulator(api_key=api_key, port=0, stamp=True) as emu:
        yield emu


@pytest.fixture
def emulator_url(emulator: Emulator) -> str:
    """Base URL of the ``emulator`` fixture."""
    return emulator.base_url


@pytest.fixture
def backoff_delays(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the client's retry backoffs instead of sleeping them."""
    delays: list[float] = []

    async def record(delay: float) -> None:
        delays.append(delay)

    monkeypatch.setattr(_retry, "sleep", record)
    return delays
