"""argparse types that check an option's range and meaning while the command line is parsed.

A bad value is refused before the command creates a folder, starts a process or opens a connection, in the
one line `augmath CMD: error: argument --OPTION: ...` (augmath.cli's parser), naming the accepted values.
`--limit -1` silently meaning "every seed but the last" (Python slicing) or `--concurrency 0` hanging the
engine are what these prevent.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from augmath.errors import OptionError


def integer(low: int | None = None, high: int | None = None):
    """An int in [low, high] (either bound optional)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer ({_range(low, high)})") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} is out of range ({_range(low, high)})")
        return value

    parse.__name__, parse.base = "integer", int  # base: the YAML type (augmath.experiment.config)
    return parse


def number(low: float | None = None, high: float | None = None, low_open: bool = False):
    """A finite float in [low, high] ((low, high] when low_open)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number ({_range(low, high, low_open)})") from None
        if not math.isfinite(value) or (low is not None and (value <= low if low_open else value < low)) or (
                high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text} is out of range ({_range(low, high, low_open)})")
        return value

    parse.__name__, parse.base = "number", float
    return parse


def _range(low, high, low_open: bool = False) -> str:
    if low is not None and high is not None:
        return f"expected a value {'>' if low_open else '>='} {low} and <= {high}"
    if low is not None:
        return f"expected a value {'>' if low_open else '>='} {low}"
    if high is not None:
        return f"expected a value <= {high}"
    return "expected a number"


POSITIVE = integer(1)
NON_NEGATIVE = integer(0)
PORT = integer(1, 65535)
SECONDS = number(0, low_open=True)
TEMPERATURE = number(0, 2)
PROBABILITY = number(0, 1)


def check_output_folder(path: str | Path, option: str = "--out") -> None:
    """An output folder to create or reuse: refused when it, or a folder above it, is a file, before any work
    (else mkdir fails with NotADirectoryError halfway through the command)."""
    for p in (Path(path), *Path(path).parents):
        if p.exists():
            if not p.is_dir():
                where = "is a file" if p == Path(path) else f"is under {p}, which is a file"
                raise OptionError(f"{option} {path} {where}; expected a folder (new, or one this command wrote)")
            return
