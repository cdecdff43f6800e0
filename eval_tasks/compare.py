"""Score the same saved predictions with augmath's grader and with lighteval's built-in gsm8k / math_500 metrics.

    python -m augmath.eval_tasks.compare RESULTS_DIR [RESULTS_DIR ...] [--data-dir D] [--references] [--out report.json]

For every row of RESULTS_DIR/details/{gsm8k,math500}.jsonl (written by `augmath eval`) the model output is
scored twice: by augmath.grading.grader (what results.json reports) and by the metric lighteval's own task uses, on a
Doc built by lighteval's own prompt function from the original row:
    gsm8k    -> lighteval.tasks.tasks.gsm8k.gsm8k_prompt + Metrics.expr_gold_metric
    math500  -> lighteval.tasks.tasks.math_500.math_500_prompt + Metrics.pass_at_k_math(k=1, n=1)
`--references` adds the reference solutions themselves as predictions (every one should be correct).
Every disagreement is printed with both graders' extracted answers; docs/evaluation.md explains the classes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from augmath import sources

from augmath import grading
from augmath.io import read_jsonl, write_json_atomic


def _builtin(benchmark: str):
    """(prompt function, metric, inner extractive metric) of lighteval's built-in task."""
    from lighteval.metrics.metrics import Metrics

    if benchmark == "gsm8k":
        from lighteval.tasks.tasks.gsm8k import gsm8k_prompt

        metric = Metrics.expr_gold_metric.value
        return (lambda r: gsm8k_prompt({"question": r.question, "answer": r.solution}, "gsm8k")), metric, \
            metric.sample_level_fn
    from lighteval.tasks.tasks.math_500 import math_500_prompt

    metric = Metrics.pass_at_k_math.value({"k": 1, "n": 1})
    return (lambda r: math_500_prompt({"problem": r.question, "solution": r.solution, "answer": r.answer},
                                      "math_500")), metric, metric.sample_level_fn.compute_score.__self__


def compare(pairs: list[tuple[sources.Record, str, str]], benchmark: str) -> dict:
    """pairs: (record, prediction text, where it came from). Returns counts and the disagreements."""
    from lighteval.models.model_output import ModelResponse

    prompt, metric, inner = _builtin(benchmark)
    kind = "gsm8k" if benchmark == "gsm8k" else "math"
    counts, disagreements = Counter(), []
    for record, output, origin in pairs:
        ours = grading.grade(record.answer, output, kind)
        doc = prompt(record)
        theirs = bool(metric.compute_sample(doc=doc, model_response=ModelResponse(text=[output]))[metric.metric_name])
        probe = prompt(record)  # the inner extractive metric records what it extracted in doc.specific
        inner.compute(doc=probe, model_response=ModelResponse(text=[output.strip()]))
        key = {(True, True): "both_correct", (False, False): "both_wrong",
               (True, False): "only_augmath", (False, True): "only_lighteval"}[(ours.correct, theirs)]
        counts[key] += 1
        if ours.correct != theirs:
            spec = probe.specific or {}
            disagreements.append({
                "id": record.id, "origin": origin, "verdict": key, "gold": record.answer,
                "augmath_extracted": ours.extracted,
                "lighteval_extracted_pred": spec.get("extracted_predictions"),
                "lighteval_extracted_gold": spec.get("extracted_golds"),
                "output_tail": output[-300:],
            })
    n = sum(counts.values())
    return {"benchmark": benchmark, "n": n, "counts": dict(counts),
            "augmath_acc": (counts["both_correct"] + counts["only_augmath"]) / max(n, 1),
            "lighteval_acc": (counts["both_correct"] + counts["only_lighteval"]) / max(n, 1),
            "disagreements": disagreements}


def collect(results_dirs: list[str], benchmark: str, data_dir: str | None, references: bool):
    records = {r.id: r for r in sources.load(benchmark, "test", data_dir=data_dir)}
    pairs = []
    for folder in results_dirs:
        path = Path(folder) / "details" / f"{benchmark}.jsonl"
        if not path.is_file():
            continue
        for i, row in enumerate(read_jsonl(path), start=1):
            if row.get("id") not in records:
                raise ValueError(f"{path}:{i}: id {row.get('id')!r} is not a {benchmark} test item")
            pairs.append((records[row["id"]], row.get("output") or "", str(folder)))
    if references:
        pairs += [(r, r.solution or "", "reference solution") for r in records.values()]
    return pairs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m augmath.eval_tasks.compare", description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="*", help="results folders written by `augmath eval`")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--references", action="store_true", help="also grade the reference solutions")
    p.add_argument("--benchmarks", default="gsm8k,math500")
    p.add_argument("--out", default=None, help="write the full report (with every disagreement) as JSON")
    p.add_argument("--show", type=int, default=5, help="disagreements to print per benchmark")
    args = p.parse_args(argv)
    report = []
    for benchmark in args.benchmarks.split(","):
        pairs = collect(args.results, benchmark, args.data_dir, args.references)
        if not pairs:
            continue
        r = compare(pairs, benchmark)
        report.append(r)
        c = r["counts"]
        print(f"{benchmark}: n={r['n']}  augmath acc {r['augmath_acc']:.4f}  lighteval acc {r['lighteval_acc']:.4f}  "
              f"both right {c.get('both_correct', 0)}  both wrong {c.get('both_wrong', 0)}  "
              f"only augmath {c.get('only_augmath', 0)}  only lighteval {c.get('only_lighteval', 0)}")
        for d in r["disagreements"][: args.show]:
            print("   ", json.dumps({k: d[k] for k in d if k != "output_tail"}, ensure_ascii=False)[:400])
    if args.out:
        write_json_atomic(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
