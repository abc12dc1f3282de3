"""The options every session kind checks before any request: durations and capacities."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from .._errors import ConfigurationError
from .._media.ring import check_capacity

__all__ = ["check_options"]


def check_options(
    durations: Mapping[str, Any],
    *,
    optional: Collection[str] = (),
    capacities: Mapping[str, Any] | None = None,
) -> None:
    """The options every session kind checks before any request (`ConfigurationError`).

    ``durations`` are positive seconds (``None``, "off", only for the names in
    ``optional``); ``capacities`` are whole numbers of frames >= 1.
    """
    for name, value in durations.items():
        if value is None:
            if name not in optional:
                raise ConfigurationError(f"{name} cannot be None")
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigurationError(f"{name} must be a number, not {type(value).__name__}")
        if not value > 0:
            off = " (or None: off)" if name in optional else ""
            raise ConfigurationError(f"{name} must be positive{off}")
    for name, value in (capacities or {}).items():
        check_capacity(value, name)
