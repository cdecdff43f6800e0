"""`augmath grade`: grade predictions from any harness against their golds.

    augmath grade IN.jsonl --kind gsm8k|math [--out OUT.jsonl] [--workers N] [--timeout S] [--policy NAME=off ...]

Rows need `gold` (string or number) and `prediction` (string, or null for "no output"); other fields pass
through. Output rows are the input rows plus `extracted` and `correct`, in input order. A bad row stops the
run naming FILE:LINE before anything is written; --out is written atomically.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from augmath.grading.grader import DEFAULT_TIMEOUT, KINDS, grade_many
from augmath.grading.policy import Policy
from augmath.io import DataError, atomic_writer, read_jsonl_numbered
from augmath.options import POSITIVE, SECONDS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="JSONL; each row has 'gold' and 'prediction' (other fields pass through)")
    parser.add_argument("--kind", required=True, choices=KINDS, help="gsm8k: a number; math: a LaTeX answer")
    parser.add_argument("--out", help="write rows + 'extracted' + 'correct' here (atomically); default stdout")
    parser.add_argument("--workers", type=POSITIVE, default=None, help="processes for symbolic checks (default: cores)")
    parser.add_argument("--timeout", type=SECONDS, default=DEFAULT_TIMEOUT,
                        help="seconds per item for symbolic checks (default 10)")
    names = [f.name for f in dataclasses.fields(Policy)]
    parser.add_argument("--policy", action="append", default=[], type=_policy_setting, metavar="NAME=on|off",
                        help=f"a policy setting (docs/grading.md, Policies; all on by default): {', '.join(names)}")


def _policy_setting(text: str) -> tuple[str, bool]:
    name, _, value = text.partition("=")
    if name not in {f.name for f in dataclasses.fields(Policy)} or value not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"expected NAME=on|off with NAME one of the Policy settings, got {text!r}")
    return name, value == "on"


def read_rows(path: str) -> list[dict]:
    rows = []
    try:
        for where, row in read_jsonl_numbered(path):
            for field in ("gold", "prediction"):
                if field not in row:
                    raise DataError(f"{where}: missing field '{field}'")
            if isinstance(row["gold"], bool) or not isinstance(row["gold"], (str, int, float)):
                raise DataError(f"{where}: field 'gold' should be a string or number, got {type(row['gold']).__name__}")
            if row["prediction"] is not None and not isinstance(row["prediction"], str):
                raise DataError(f"{where}: field 'prediction' should be a string or null, "
                                f"got {type(row['prediction']).__name__}")
            rows.append(row)
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror})") from None
    if not rows:
        raise DataError(f"{path}: no rows to grade (the file is empty)")
    return rows


def run(args: argparse.Namespace) -> int:
    rows = read_rows(args.input)  # a DataError is augmath.cli's one line
    verdicts = grade_many([r["gold"] for r in rows], [r["prediction"] or "" for r in rows], args.kind,
                          workers=args.workers, timeout=args.timeout, policy=Policy(**dict(args.policy)))
    lines = [json.dumps({**r, "extracted": v.extracted, "correct": v.correct}, ensure_ascii=False) + "\n"
             for r, v in zip(rows, verdicts)]
    if args.out:
        with atomic_writer(args.out) as f:
            f.writelines(lines)
    else:
        sys.stdout.writelines(lines)
        sys.stdout.flush()
    n_ok = sum(v.correct for v in verdicts)
    print(f"augmath grade: {len(rows)} rows, {n_ok} correct ({n_ok / max(1, len(rows)):.4f})", file=sys.stderr)
    return 0
