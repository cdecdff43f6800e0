"""Lazy package faces (PEP 562): `from augmath.engine import Engine` imports engine.engine only when used.

A package's __init__ runs whenever any of its submodules is imported, so a face that imported everything
eagerly would make `augmath serve` pay for openai and `augmath build` for torch. Each face lists its public
names and the submodule that defines each; this module turns that table into __getattr__ / __dir__ / __all__.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_face(package: str, exports: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """exports: {public name: submodule of `package` that defines it} -> (__getattr__, __dir__, __all__)."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
        globals_ = importlib.import_module(package).__dict__
        globals_[name] = value  # later look-ups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(exports) | set(importlib.import_module(package).__dict__))

    return __getattr__, __dir__, sorted(exports)
