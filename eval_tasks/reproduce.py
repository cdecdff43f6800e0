"""`augmath reproduce RESULTS_DIR`: run an evaluation again from its record; say per task if the numbers match.

    augmath reproduce outputs/results/run1                       # the model the record names (path or Hub id)
    augmath reproduce results/eval-train-x --model ORG/model     # a published model by Hub id
    augmath reproduce outputs/results/run1 --tolerance 1e-4

RESULTS_DIR is a folder written by `augmath eval` (or its copy in a results repository): results.json with a
`reproduction` record (eval_tasks/record.py). The same `augmath eval` options run again into --out (default
RESULTS_DIR/reproduced); every metric of every task is compared with the recorded one, and a task matches when
each differs by at most --tolerance (absolute; default 1e-6: on the same versions and weights a CPU run of a
likelihood task gives the same bits per byte to ~1e-12, and a greedy generative run the same answers). Where a
task differs the report names what differs between the record and the new run: the weights' hash, the items,
the settings, package versions, the grader's code, the lock, the commit. OUT/reproduce.json keeps the verdicts.
Exit 0: every task matches; 1: some differ; 2: bad input.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from augmath.errors import UserError
from augmath.io import read_json_object, write_json_atomic

DEFAULT_TOLERANCE = 1e-6


class ReproduceError(UserError):
    """The results folder cannot be reproduced as asked (no record, no model)."""


def _metrics(entry: dict) -> dict[str, float]:
    from augmath.cards.model import metrics

    return {k: v for k, v in metrics(entry).items() if k != "n"}


def compare(old: dict, new: dict, tolerance: float) -> dict[str, dict]:
    """Per task: {"match", "metrics": {name: [recorded, now]}, "why": [...]}."""
    from augmath.eval_tasks.record import differences

    why = differences(old.get("reproduction") or {}, new.get("reproduction") or {})
    verdicts = {}
    for task, entry in old["tasks"].items():
        now = new["tasks"].get(task)
        if now is None:
            verdicts[task] = {"match": False, "metrics": {}, "why": ["the task was not run again"]}
            continue
        pairs = {m: [v, _metrics(now).get(m)] for m, v in _metrics(entry).items()}
        ok = all(b is not None and abs(a - b) <= tolerance for a, b in pairs.values()) and entry.get("n") == now.get("n")
        verdicts[task] = {"match": ok, "metrics": pairs, "n": [entry.get("n"), now.get("n")],
                          "why": [] if ok else (why or ["nothing recorded differs (a nondeterministic backend?)"])}
    return verdicts


def reproduce(folder: Path, model: str | None, out: Path | None, tolerance: float) -> dict:
    from augmath.eval_tasks import run as eval_run
    from augmath.eval_tasks.results import EvalOutputError

    path = folder / "results.json"
    if not path.is_file():
        raise ReproduceError(f"{folder}: no results.json (a folder written by `augmath eval`)")
    old = read_json_object(path)
    record = old.get("reproduction")
    if not isinstance(record, dict) or not record.get("eval_argv"):
        raise ReproduceError(f"{path}: no reproduction record (written by `augmath eval` since augmath 0.1.0 "
                             "with eval_tasks/record.py); evaluate the model again instead")
    model = model or (old.get("model_path") if old.get("model_path") and Path(old["model_path"]).exists()
                      else (record.get("model") or {}).get("name"))
    if not model:
        raise ReproduceError(f"{path} names no model; pass --model PATH_OR_HUB_ID")
    out = out or folder / "reproduced"
    parser = argparse.ArgumentParser(prog="augmath eval")
    eval_run.add_arguments(parser)
    args = parser.parse_args(record["eval_argv"][1:] + ["--model", model, "--out", str(out), "--no-card",
                                                        "--quiet"])
    try:
        new = eval_run.evaluate(args)
    except (eval_run.EvalError, EvalOutputError, ValueError, FileNotFoundError) as e:
        raise ReproduceError(f"re-running the evaluation: {e}") from None
    verdicts = compare(old, new, tolerance)
    report = {"results": str(path), "model": model, "tolerance": tolerance, "tasks": verdicts,
              "match": all(v["match"] for v in verdicts.values())}
    write_json_atomic(out / "reproduce.json", report)
    return report


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("results", help="results folder written by `augmath eval` (results.json with a reproduction record)")
    p.add_argument("--model", default=None, help="model folder or Hub id (default: the one the record names)")
    p.add_argument("--out", default=None, help="where the new evaluation goes (default RESULTS/reproduced)")
    p.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                   help=f"largest absolute difference per metric that still matches (default {DEFAULT_TOLERANCE})")


def run(args: argparse.Namespace) -> int:
    report = reproduce(Path(args.results), args.model, Path(args.out) if args.out else None, args.tolerance)
    for task, v in report["tasks"].items():
        shown = ", ".join(f"{m} {a:.6g} recorded, {b if b is None else format(b, '.6g')} now"
                          for m, (a, b) in v["metrics"].items())
        verdict = "matches" if v["match"] else "DIFFERS"
        print(f"{task}: {verdict} within {report['tolerance']:g} ({shown})"
              + ("" if v["match"] else f"; why: {'; '.join(v['why'])}"))
    return 0 if report["match"] else 1
