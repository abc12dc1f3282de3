"""Argument types shared by the `heygen-streaming` subcommands."""

from __future__ import annotations

import argparse

__all__ = ["positive_float"]


def positive_float(text: str) -> float:
    """An argparse ``type=``: a number of seconds (or any quantity) that must be > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value
