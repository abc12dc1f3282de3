"""Public names that load on first use (PEP 562), for the package and its ``liveavatar``.

``heygen_streaming`` and ``heygen_streaming.liveavatar`` each keep a map from a public
name to the private module that defines it (``_LAZY``) and a ``__getattr__`` that calls
`load`: the module is imported on the first access of one of its names, and the value is
kept in the public module's namespace, so later accesses skip ``__getattr__``. Type
checkers see the ``TYPE_CHECKING`` imports of each public module instead.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, MutableMapping
from typing import Any

__all__ = ["load"]


def load(name: str, lazy: Mapping[str, str], namespace: MutableMapping[str, Any]) -> Any:
    """The value of public ``name``, imported from its module in ``lazy`` (relative to the
    package) and kept in ``namespace`` (the public module's globals); `AttributeError` for
    a name ``lazy`` does not list."""
    module = lazy.get(name)
    if module is None:
        raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, "heygen_streaming"), name)
    namespace[name] = value  # later accesses skip the module's __getattr__
    return value
