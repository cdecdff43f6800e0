"""Benchmark: augmath's grader vs plain math-verify on the same pairs, in the same run: speed and accuracy.

Throughput workloads (gold vs text to grade):
  math-self     all 5,000 MATH test reference solutions vs their golds (last \\boxed{} of the solution): a ceiling,
                since a string match settles almost every pair
  gsm8k-self    all 1,319 GSM8K test reference solutions vs their golds (the text after '####', commas kept)
  math-shifted  the first N MATH golds vs the NEXT item's solution (wrong-answer pairs: exercises the slow path)
  real-preds    recorded SmolLM2-135M outputs (tests/data/eval_saved_predictions.jsonl: GSM8K + MATH-500 answers;
                tests/fixtures/smollm2_outputs*.jsonl: sampled solution paths) vs their golds, the list graded
                --repeat times (augmath's caches cleared before each pass, so no pass is free)
Cost of the multilingual steps on English text (augmath only):
  english-path  GSM8K solutions, MATH solutions and the recorded model outputs: extraction time with the
                multilingual steps on and off (interleaved, best of 9), and the work those steps add per text
Accuracy workload:
  cases         tests/data/grading_cases.jsonl: answer-equivalence pairs with an expected verdict, one family per
                kind of answer (peer graders' public tests, multilingual text, named answers, several answers,
                intervals, decimal commas, long solutions, renamed variables, false-positive probes, MATH-500
                near-misses); accuracy per family for both graders, and the pairs each gets wrong with --show-wrong

Baseline: math-verify 0.5.2 `verify(parse(gold), parse(prediction))` with its default settings, MATH golds wrapped as
`$gold$` when they carry no math delimiters of their own (bare LaTeX outside $...$ parses to nothing). It runs in
--mv-workers processes (default: the same number as augmath's --workers): a fork pool of processes that already
imported math-verify, each calling it in its main thread (its SIGALRM timeouts need that).
augmath: `grading.grade_many(golds, preds, kind, workers=W)`, caches cleared, pool start-up included in "seconds"
and reported apart; "steady items/s" leaves out each grader's one-off start-up (augmath's zygote, math-verify's pool).
Each (grader, workload) runs in its own subprocess so that peak memory is measured separately: "peak MB" is the
largest max-RSS of the phase process and its waited-for children.

    python benchmarks/grading.py [--data-dir ../shared/data] [--workers 2] [--shifted 1000] [--repeat 20]
                                 [--workloads cases,real-preds,...] [--show-wrong]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's augmath, not an installed one
WORKLOADS = ("math-self", "gsm8k-self", "math-shifted", "real-preds", "cases", "english-path")
CASES = ROOT / "tests" / "data" / "grading_cases.jsonl"
FIXTURES = ROOT / "tests" / "fixtures"
SAVED = [ROOT / "tests" / "data" / "eval_saved_predictions.jsonl", FIXTURES / "smollm2_outputs.jsonl",
         FIXTURES / "smollm2_outputs_gsm8k.jsonl"]


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_cases() -> list[dict]:
    return _jsonl(CASES)


def real_predictions(data_dir: str) -> list[tuple[str, str, str]]:
    """(kind, gold, output) for every recorded model answer and sampled solution path with a known gold."""
    from augmath import sources

    by_id: dict[str, str] = {}
    for name, split in (("gsm8k", "test"), ("gsm8k", "train"), ("math500", "test"), ("math", "train")):
        by_id.update((r.id, r.answer) for r in sources.load(name, split, data_dir=data_dir))
    out = []
    for row in _jsonl(SAVED[0]):
        kind = "gsm8k" if row["benchmark"] == "gsm8k" else "math"
        out.append((kind, by_id[row["id"]], row["output"]))
    for path in SAVED[1:]:
        for row in _jsonl(path):
            if row.get("kind") == "path" and row["seed_id"] in by_id:
                out.append(("gsm8k" if row["source"] == "gsm8k" else "math", by_id[row["seed_id"]], row["text"]))
    return out


def load_pairs(workload: str, data_dir: str, shifted: int) -> list[tuple[str, str, str]]:
    """(kind, gold, text) triples of a throughput workload."""
    from augmath import sources

    if workload == "real-preds":
        return real_predictions(data_dir)
    if workload == "cases":
        return [(c["kind"], c["gold"], c["prediction"]) for c in load_cases()]
    if workload.startswith("gsm8k"):
        recs = sources.load("gsm8k", "test", data_dir=data_dir)
        return [("gsm8k", r.solution.rsplit("####", 1)[1].strip(), r.solution) for r in recs]  # raw gold "1,450,000"
    recs = sources.load("math", "test", data_dir=data_dir)
    golds, sols = [r.answer for r in recs], [r.solution for r in recs]
    if workload == "math-shifted":
        n = min(shifted, len(recs))
        return [("math", golds[i], sols[(i + 1) % len(sols)]) for i in range(n)]
    return [("math", g, s) for g, s in zip(golds, sols)]


# --- math-verify, the baseline ----------------------------------------------------------------------------------
def mv_gold(gold: str, kind: str) -> str:
    """MATH golds are bare LaTeX: wrap them in $...$ unless they carry delimiters or boxes of their own."""
    if kind == "math" and not re.search(r"(?<!\\)\$|\\\(|\\\[|\\boxed|\\fbox", gold):
        return f"${gold}$"
    return gold


def _mv_one(item: tuple[str, str, str]) -> bool:
    from math_verify import parse, verify

    kind, gold, pred = item
    try:
        return bool(verify(parse(mv_gold(gold, kind)), parse(pred)))
    except Exception:  # math-verify raising on an item counts as "not correct", like its own metric does
        return False


def _mv_ready(_: int) -> int:
    return os.getpid()


def run_math_verify(items: list, workers: int) -> tuple[list[bool], float, float]:
    """(verdicts, seconds incl. pool start-up, start-up seconds)."""
    import math_verify  # noqa: F401  (imported before the fork: workers start warm)

    t0 = time.perf_counter()
    if workers <= 1:
        _mv_one(("math", "1", "$1$"))  # first call imports sympy's lazy parts, as a warm pool would have done
        startup = time.perf_counter() - t0
        out = [_mv_one(it) for it in items]
        return out, time.perf_counter() - t0, startup
    import multiprocessing as mp

    with mp.get_context("fork").Pool(workers) as pool:
        pool.map(_mv_ready, range(workers), chunksize=1)
        pool.map(_mv_one, [("math", "1", "$1$")] * workers, chunksize=1)
        startup = time.perf_counter() - t0
        out = pool.map(_mv_one, items, chunksize=4)
    return out, time.perf_counter() - t0, startup


# --- augmath ------------------------------------------------------------------------------------------------------
def clear_augmath_caches() -> None:
    """Every memo in the grader's modules, so a repeated pass does the full work again."""
    for name, mod in list(sys.modules.items()):
        if not name.startswith("augmath.grading"):
            continue
        for attr in vars(mod).values():
            if callable(getattr(attr, "cache_clear", None)):
                attr.cache_clear()
        cache = getattr(mod, "_SYMBOLIC_CACHE", None)
        if isinstance(cache, dict):
            cache.clear()


def run_augmath(items: list, workers: int) -> tuple[list[bool], float, float]:
    """(verdicts, seconds incl. any pool start-up, start-up seconds); the pool stays up for the next pass."""
    from augmath import grading
    from augmath.grading.pool import shared_pool

    clear_augmath_caches()
    startup0 = shared_pool().startup_seconds
    t0 = time.perf_counter()
    out: list[bool] = [False] * len(items)
    for kind in ("gsm8k", "math"):
        idx = [i for i, it in enumerate(items) if it[0] == kind]
        if idx:
            verdicts = grading.grade_many([items[i][1] for i in idx], [items[i][2] for i in idx], kind, workers=workers)
            for i, v in zip(idx, verdicts):
                out[i] = v.correct
    return out, time.perf_counter() - t0, shared_pool().startup_seconds - startup0


def run_phase(grader: str, workload: str, args) -> dict:
    items = load_pairs(workload, args.data_dir, args.shifted)
    repeat = args.repeat if workload == "real-preds" else 1
    correct, seconds, startup = [], 0.0, 0.0
    for r in range(repeat):
        if grader == "math-verify":
            c, s, st = run_math_verify(items, args.mv_workers)
        else:
            c, s, st = run_augmath(items, args.workers)
        correct = c
        seconds += s
        startup += st
    if grader == "augmath":
        from augmath.grading.pool import shared_pool

        shared_pool().close()  # so the zygote's memory shows up in RUSAGE_CHILDREN below
    return {"n": len(items) * repeat, "seconds": seconds, "correct": correct, "startup": startup,
            "children_maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}


def spawn_phase(grader: str, workload: str, args) -> dict:
    cmd = [sys.executable, __file__, "--phase", f"{grader}:{workload}", "--data-dir", args.data_dir,
           "--workers", str(args.workers), "--mv-workers", str(args.mv_workers), "--shifted", str(args.shifted),
           "--repeat", str(args.repeat)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"phase {grader}:{workload} failed (status {status})")
    result = json.loads(out)
    result["maxrss_mb"] = max(usage.ru_maxrss, result["children_maxrss_kb"]) / 1024
    return result


# --- reports ------------------------------------------------------------------------------------------------------
def accuracy_report(res: dict, show_wrong: bool) -> list[str]:
    cases = load_cases()
    a, m = res["augmath"]["correct"], res["math-verify"]["correct"]
    fams: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(cases):
        fams[c["family"]].append(i)
    lines = [f"{'family':20} {'pairs':>5} {'augmath':>8} {'math-verify':>11} {'aug FP':>6} {'mv FP':>6} "
             f"{'aug FN':>6} {'mv FN':>6}   (accuracy; FP = wrong pair judged correct, FN = right pair judged wrong)"]

    def row(name: str, idx: list[int]) -> str:
        exp = [cases[i]["expected"] for i in idx]
        acc_a = sum(a[i] == e for i, e in zip(idx, exp)) / len(idx)
        acc_m = sum(m[i] == e for i, e in zip(idx, exp)) / len(idx)
        fp = lambda v: sum(v[i] and not e for i, e in zip(idx, exp))  # noqa: E731
        fn = lambda v: sum(not v[i] and e for i, e in zip(idx, exp))  # noqa: E731
        return (f"{name:20} {len(idx):5d} {acc_a:8.3f} {acc_m:11.3f} {fp(a):6d} {fp(m):6d} {fn(a):6d} {fn(m):6d}")

    for fam in sorted(fams):
        lines.append(row(fam, fams[fam]))
    lines.append(row("ALL", list(range(len(cases)))))
    if show_wrong:
        for name, verdicts in (("augmath", a), ("math-verify", m)):
            wrong = [c for c, v in zip(cases, verdicts) if v != c["expected"]]
            lines.append(f"\n{name} gets {len(wrong)} pairs wrong:")
            for c in wrong:
                lines.append(f"  [{c['family']}] expected {c['expected']}: gold={c['gold'][:80]!r} "
                             f"pred={c['prediction'][-120:]!r}")
    return lines


def english_path(data_dir: str) -> list[str]:
    """Extraction time per English text with the multilingual steps on / off, and the exact work they add."""
    import gzip
    import importlib

    extract = importlib.import_module("augmath.grading.extract")
    gsm8k = [r["answer"] for r in map(json.loads, Path(data_dir, "gsm8k", "test.jsonl").read_text().splitlines())]
    with gzip.open(Path(data_dir, "gsm8k", "train.jsonl.gz"), "rt") as f:
        gsm8k += [json.loads(line)["answer"] for line in f]
    with gzip.open(Path(data_dir, "math", "test.jsonl.gz"), "rt") as f:
        math_solutions = [json.loads(line)["solution"] for line in f]
    outputs = [r["output"] for r in _jsonl(SAVED[0])] + [r["text"] for p in SAVED[1:] for r in _jsonl(p)]
    prepare, anchors = extract._prepare, extract._anchors
    english_only = (lambda t: t, lambda tail: list(extract._ANCHOR.finditer(tail)))

    def best(f, texts) -> float:
        times = []
        for _ in range(9):
            t0 = time.perf_counter()
            for t in texts:
                f(t)
            times.append(time.perf_counter() - t0)
        return min(times) * 1e6 / len(texts)

    def added(t):
        extract._prepare(t)
        return extract._foreign(t[-extract.TAIL_CHARS:])

    lines = [f"{'texts':24} {'n':>6} {'on us':>8} {'off us':>8} {'added us':>9} {'non-ASCII':>9} {'foreign':>7}"]
    for name, f, texts in (("GSM8K solutions (gsm8k)", extract.extract_number, gsm8k),
                           ("MATH solutions (math)", extract.extract_latex, math_solutions),
                           ("model outputs (gsm8k)", extract.extract_number, outputs * 20),
                           ("model outputs (math)", extract.extract_latex, outputs * 20)):
        on = off = 1e9
        for _ in range(3):
            extract._prepare, extract._anchors = prepare, anchors
            on = min(on, best(f, texts))
            extract._prepare, extract._anchors = english_only
            off = min(off, best(f, texts))
        extract._prepare, extract._anchors = prepare, anchors
        lines.append(f"{name:24} {len(texts):6d} {on:8.1f} {off:8.1f} {best(added, texts):9.2f} "
                     f"{sum(not t.isascii() for t in texts):9d} {sum(bool(added(t)) for t in texts):7d}")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("AUGMATH_DATA_DIR"), help="folder laid out like ../shared/data")
    ap.add_argument("--workers", type=int, default=2, help="augmath worker processes (default 2 = this machine)")
    ap.add_argument("--mv-workers", type=int, default=None, help="math-verify processes (default: --workers)")
    ap.add_argument("--shifted", type=int, default=1000, help="pairs in the math-shifted workload")
    ap.add_argument("--repeat", type=int, default=20, help="passes over the real-preds workload")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--show-wrong", action="store_true", help="list the cases each grader gets wrong")
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.mv_workers is None:
        args.mv_workers = args.workers
    if not args.data_dir:
        ap.error("--data-dir or AUGMATH_DATA_DIR is required")
    if args.phase:
        grader, workload = args.phase.split(":")
        out, sys.stdout = sys.stdout, sys.stderr  # anything a grader prints must not corrupt the result line
        result = run_phase(grader, workload, args)
        out.write(json.dumps(result) + "\n")
        return 0
    print(f"cores={os.cpu_count()} load_avg={os.getloadavg()[0]:.1f} augmath_workers={args.workers} "
          f"math_verify_workers={args.mv_workers}")
    print(f"{'workload':13} {'grader':12} {'pairs':>6} {'seconds':>8} {'items/s':>9} {'steady/s':>9} {'peak MB':>8} "
          f"{'correct':>13}  (seconds incl. start-up; steady = without it)")
    summary, accuracy = [], []
    english = []
    for workload in args.workloads.split(","):
        if workload == "english-path":
            english = english_path(args.data_dir)
            continue
        res = {g: spawn_phase(g, workload, args) for g in ("augmath", "math-verify")}
        for g, r in res.items():
            rate = r["n"] / r["seconds"]
            steady = r["n"] / max(1e-9, r["seconds"] - r["startup"])
            print(f"{workload:13} {g:12} {r['n']:6d} {r['seconds']:8.2f} {rate:9.0f} {steady:9.0f} "
                  f"{r['maxrss_mb']:8.0f} {sum(r['correct']):6d}/{len(r['correct']):<6d}  "
                  f"(start-up {r['startup']:.1f} s)")
        a, m = res["augmath"], res["math-verify"]
        same = sum(x == y for x, y in zip(a["correct"], m["correct"]))
        ratio = (a["n"] / a["seconds"]) / (m["n"] / m["seconds"])
        steady = ((a["n"] / max(1e-9, a["seconds"] - a["startup"])) / (m["n"] / max(1e-9, m["seconds"] - m["startup"])))
        differ = [i for i, (x, y) in enumerate(zip(a["correct"], m["correct"])) if x != y]
        summary.append(f"{workload}: speed ratio augmath/math-verify = {ratio:.1f}x ({steady:.1f}x steady); "
                       f"graders agree on {same}/{len(a['correct'])} pairs; differing item indexes: {differ[:20]}"
                       f"{' ...' if len(differ) > 20 else ''}")
        if workload == "cases":
            accuracy = accuracy_report(res, args.show_wrong)
    print("\n".join(summary))
    if accuracy:
        print("\naccuracy per family on tests/data/grading_cases.jsonl")
        print("\n".join(accuracy))
    if english:
        print("\nextraction per English text, multilingual steps on / off (best of 9 x 3, us), and what they add")
        print("\n".join(english))
    return 0


if __name__ == "__main__":
    sys.exit(main())
