"""Record real model outputs from `augmath eval` runs into the test fixture tests/data/eval_saved_predictions.jsonl.

    python benchmarks/eval.py --tasks gsm8k,math500 --n 100 --keep outputs/eval_bench
    python scripts/record_eval_predictions.py outputs/eval_bench/endpoint outputs/eval_bench/accelerate --per-task 30

tests/eval_tasks/test_eval_metric.py re-scores these outputs through the lighteval tasks and checks the score equals the
grader applied directly. Each row keeps where it came from (model, backend, the verdict at recording time), so
a grader change that flips a recorded verdict shows up in review of the fixture, not silently.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from augmath.io import write_jsonl_atomic

BENCHMARKS = ("gsm8k", "math500")


def rows_from(run: Path, per_task: int) -> list[dict]:
    results = json.loads((run / "results.json").read_text())
    model, backend = Path(str(results["model"])).name, results["backend"]
    out = []
    for benchmark in BENCHMARKS:
        details = run / "details" / f"{benchmark}.jsonl"
        if not details.is_file():
            continue
        for line in details.read_text().splitlines()[:per_task]:
            d = json.loads(line)
            out.append({"benchmark": benchmark, "id": d["id"], "model": model, "backend": backend,
                        "output": d["output"], "extracted": d["extracted"], "correct": d["correct"]})
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path, help="`augmath eval --out` folders")
    p.add_argument("--per-task", type=int, default=30, help="outputs kept per benchmark per run")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "tests/data/eval_saved_predictions.jsonl")
    args = p.parse_args(argv)
    rows = [r for run in args.runs for r in rows_from(run, args.per_task)]
    if not rows:
        print(f"no details/{{{','.join(BENCHMARKS)}}}.jsonl under {[str(r) for r in args.runs]}", file=sys.stderr)
        return 1
    write_jsonl_atomic(args.out, rows)
    print(f"{len(rows)} outputs -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
