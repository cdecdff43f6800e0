"""Benchmark: augmath's grader vs plain math-verify on the same pairs, in the same run.

Workloads (gold vs text to grade):
  math-self     all 5,000 MATH test reference solutions vs their golds (last \\boxed{} of the solution)
  gsm8k-self    all 1,319 GSM8K test reference solutions vs their golds (the text after '####', commas kept)
  math-shifted  the first N MATH golds vs the NEXT item's solution (almost all wrong: exercises the slow path)

Baseline: math-verify 0.5.2 `verify(parse(gold), parse(solution))`, one process (its SIGALRM timeouts need
the main thread), gold wrapped as `$gold$` for MATH (bare LaTeX outside $...$ parses to nothing).
augmath: `grading.grade_many(golds, solutions, kind, workers=W)`, caches cleared, pool start-up included.
Each (grader, workload) runs in its own subprocess so that peak memory is measured separately: "peak MB"
is the largest max-RSS of the phase process and its waited-for children (augmath's zygote).

    python benchmarks/grading.py [--data-dir ../shared/data] [--workers 2] [--shifted 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

WORKLOADS = ("math-self", "gsm8k-self", "math-shifted")


def load_pairs(workload: str, data_dir: str, shifted: int) -> tuple[str, list[str], list[str]]:
    from augmath import sources

    if workload.startswith("gsm8k"):
        recs = sources.load("gsm8k", "test", data_dir=data_dir)
        golds = [r.solution.rsplit("####", 1)[1].strip() for r in recs]  # raw gold, e.g. "1,450,000"
        return "gsm8k", golds, [r.solution for r in recs]
    recs = sources.load("math", "test", data_dir=data_dir)
    golds, sols = [r.answer for r in recs], [r.solution for r in recs]
    if workload == "math-shifted":
        n = min(shifted, len(recs))
        return "math", golds[:n], [sols[(i + 1) % len(sols)] for i in range(n)]
    return "math", golds, sols


def run_phase(grader: str, workload: str, data_dir: str, workers: int, shifted: int) -> dict:
    kind, golds, preds = load_pairs(workload, data_dir, shifted)
    startup = 0.0
    if grader == "math-verify":
        from math_verify import parse, verify

        t0 = time.perf_counter()
        correct = []
        for g, p in zip(golds, preds):
            gp = parse(f"${g}$") if kind == "math" else parse(g)
            correct.append(bool(verify(gp, parse(p))))
        seconds = time.perf_counter() - t0
    else:
        from augmath import grading
        from augmath.grading.pool import shared_pool

        t0 = time.perf_counter()
        verdicts = grading.grade_many(golds, preds, kind, workers=workers)
        seconds = time.perf_counter() - t0
        correct = [v.correct for v in verdicts]
        startup = shared_pool().startup_seconds
        shared_pool().close()  # so the zygote's memory shows up in RUSAGE_CHILDREN below
    return {"n": len(golds), "seconds": seconds, "correct": correct, "startup": startup,
            "children_maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}


def spawn_phase(grader: str, workload: str, args) -> dict:
    cmd = [sys.executable, __file__, "--phase", f"{grader}:{workload}", "--data-dir", args.data_dir,
           "--workers", str(args.workers), "--shifted", str(args.shifted)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"phase {grader}:{workload} failed (status {status})")
    result = json.loads(out)
    result["maxrss_mb"] = max(usage.ru_maxrss, result["children_maxrss_kb"]) / 1024
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("AUGMATH_DATA_DIR"), help="folder laid out like ../shared/data")
    ap.add_argument("--workers", type=int, default=2, help="augmath worker processes (default 2 = this machine)")
    ap.add_argument("--shifted", type=int, default=1000, help="pairs in the math-shifted workload")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.data_dir:
        ap.error("--data-dir or AUGMATH_DATA_DIR is required")
    if args.phase:
        grader, workload = args.phase.split(":")
        print(json.dumps(run_phase(grader, workload, args.data_dir, args.workers, args.shifted)))
        return 0
    print(f"cores={os.cpu_count()} load_avg={os.getloadavg()[0]:.1f} augmath_workers={args.workers}")
    header = (f"{'workload':13} {'grader':12} {'pairs':>6} {'seconds':>8} {'items/s':>9} {'peak MB':>8} "
              f"{'correct':>13}  (seconds incl. worker start-up)")
    print(header)
    summary = []
    for workload in args.workloads.split(","):
        res = {g: spawn_phase(g, workload, args) for g in ("augmath", "math-verify")}
        for g, r in res.items():
            rate = r["n"] / r["seconds"]
            print(f"{workload:13} {g:12} {r['n']:6d} {r['seconds']:8.2f} {rate:9.0f} {r['maxrss_mb']:8.0f} "
                  f"{sum(r['correct']):6d}/{r['n']:<6d}" + (f"  ({r['startup']:.1f})" if r["startup"] else ""))
        a, m = res["augmath"], res["math-verify"]
        same = sum(x == y for x, y in zip(a["correct"], m["correct"]))
        ratio = (a["n"] / a["seconds"]) / (m["n"] / m["seconds"])
        differ = [i for i, (x, y) in enumerate(zip(a["correct"], m["correct"])) if x != y]
        summary.append(f"{workload}: speed ratio augmath/math-verify = {ratio:.1f}x; graders agree on "
                       f"{same}/{a['n']} pairs; differing item indexes: {differ[:20]}{' ...' if len(differ) > 20 else ''}")
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
