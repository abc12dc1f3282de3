"""pytest plugin of heygen-streaming (entry point ``pytest11``): the ``heygen_emulator`` fixture.

``heygen_emulator`` is an `heygen_streaming.testing.EmulatorServer`: ``.base_url``,
``.api_key``, ``.client()`` and ``.faults``. By default each test gets a fresh emulator;
``--heygen-emulator-scope=session`` (or the ini option ``heygen_emulator_scope``) shares one
per session (or ``module``), reset after each test (`EmulatorServer.reset`: every session and
stream of every API ended, tokens forgotten, faults cleared), so each test starts as with a
fresh emulator. A test marked
``@pytest.mark.heygen_emulator(max_sessions=1, ...)`` gets its own emulator with those
`heygen_streaming.emulator.Emulator` options.

This module imports nothing heavy: pytest loads it in every run where the package is
installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal, cast

import pytest

if TYPE_CHECKING:
    from ._server import EmulatorServer

__all__ = ["heygen_emulator"]

SCOPES = ("function", "module", "session")
_OPTION = "--heygen-emulator-scope"
_INI = "heygen_emulator_scope"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("heygen-streaming")
    group.addoption(
        _OPTION,
        choices=SCOPES,
        default=None,
        help="how long one heygen_emulator lives (default: function, or the ini option)",
    )
    parser.addini(_INI, "scope of the heygen_emulator fixture: function, module or session")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "heygen_emulator(**options): a dedicated emulator for this test, with these "
        "heygen_streaming.emulator.Emulator options",
    )


Scope = Literal["function", "module", "session"]


def _scope(fixture_name: str, config: pytest.Config) -> Scope:
    scope = config.getoption(_OPTION) or config.getini(_INI) or "function"
    if scope not in SCOPES:
        raise pytest.UsageError(f"{_INI} must be one of {', '.join(SCOPES)}, not {scope!r}")
    return cast(Scope, scope)


def _start(**options: object) -> EmulatorServer:
    from ._server import EmulatorServer

    server = EmulatorServer(**options)  # type: ignore[arg-type]
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(f"heygen_emulator: {exc}", pytrace=False)
    return server


@pytest.fixture(scope=_scope)
def _heygen_emulator_shared() -> Iterator[EmulatorServer]:
    server = _start()
    yield server
    server.close()


@pytest.fixture
def heygen_emulator(request: pytest.FixtureRequest) -> Iterator[EmulatorServer]:
    """An offline HeyGen emulator: ``.base_url``, ``.api_key``, ``.client()``, ``.faults``."""
    marker = request.node.get_closest_marker("heygen_emulator")
    if marker is not None:
        server = _start(**marker.kwargs)
        yield server
        server.close()
        return
    shared: EmulatorServer = request.getfixturevalue("_heygen_emulator_shared")
    yield shared
    shared.reset()  # no session, stream, token or fault leaks into the next test
