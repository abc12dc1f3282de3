"""`netns_pair()`: a veth-joined namespace pair for one test, always deleted afterwards."""

from __future__ import annotations

import atexit
import contextlib
from collections.abc import Iterator

import pytest

from reliability._netns import VethPair, unavailable_reason

__all__ = ["netns_pair"]

_LIVE: set[VethPair] = set()


@atexit.register
def _delete_leftovers() -> None:  # a run interrupted between setup and teardown
    for net in list(_LIVE):
        net.close()


@contextlib.contextmanager
def netns_pair() -> Iterator[VethPair]:
    """``ns_a`` (server, 10.99.0.1) and ``ns_b`` (client, 10.99.0.2), joined by a veth
    pair; skips when namespaces cannot be made here. Deleted on exit, even on failure."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"network namespaces unavailable: {reason}")
    net = VethPair()
    _LIVE.add(net)
    try:
        yield net
    finally:
        net.close()
        _LIVE.discard(net)
