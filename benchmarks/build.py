"""Benchmark `augmath build`: rows/s from run folders to a loadable dataset folder, and peak memory.

Baseline (same run, same inputs, same output layout): the obvious in-memory build — read every items.jsonl row
into a list, sort it in the scaling order (queries by seeded hash, each query's paths by path_index), and write
each config with `Dataset.from_list(...).to_parquet(...)`.
Each build runs in its own process so its peak RSS (ru_maxrss) is its own; "over import" subtracts the RSS of a
process that only imports the modules. Target: augmath's memory stays flat as rows grow, the baseline's does not.

    python benchmarks/build.py --rows 200000          # runs from real GSM8K/MATH train seeds ($AUGMATH_DATA_DIR)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

CHILD = r"""
import json, resource, sys, time
mode, out, data_dir, runs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
from augmath.dataset_builders import build as B
import datasets
start = time.perf_counter()
if mode == "augmath":
    B.build(runs, out, data_dir=data_dir)
elif mode == "baseline":
    from pathlib import Path
    rows = []
    for r in runs:
        for line in open(Path(r) / "items.jsonl", encoding="utf-8"):
            row = json.loads(line)
            row["id"], row["query_id"] = B.dataset_ids(Path(r).name, row)
            rows.append(row)
    rows.sort(key=lambda row: (B.sort_key(0, row["query_id"]), row["path_index"]))
    configs = {"default": rows}
    for row in rows:
        configs.setdefault(row["source"], []).append(row)
        configs.setdefault(row["source"] + "-" + row["strategy"], []).append(row)
    seeds = {r["seed_id"]: (r["source"], "") for r in rows}
    for source in sorted({r["source"] for r in rows}):
        configs[source + "-original"] = B.original_rows(source, seeds, 0, data_dir)
    for name, part in configs.items():
        keep = [{k: r.get(k) for k in B.FEATURES} for r in part]
        datasets.Dataset.from_list(keep, features=B.FEATURES).to_parquet(f"{out}/data/{name}/train.parquet")
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def child(mode: str, out: Path, data_dir: str, runs: list[Path]) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_CACHE": str(out.parent / f"cache-{mode}")}
    proc = subprocess.run([sys.executable, "-c", CHILD, mode, str(out), data_dir, *map(str, runs)],
                          capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def make_runs(work: Path, rows: int, data_dir: str) -> tuple[list[Path], int]:
    """Run folders from real train seeds: 3 strategies per source, as many paths as needed for `rows` rows."""
    from build_fixtures import make_run

    from augmath.sources import load

    n = {s: len(load(s, "train", data_dir=data_dir)) for s in ("gsm8k", "math")}
    paths = max(1, -(-rows // (3 * sum(n.values()))))
    runs, total = [], 0
    for source in ("gsm8k", "math"):
        seeds = min(n[source], -(-rows // (2 * 3 * paths)))
        total += len(make_run(work / f"run-{source}", source, ["reverse", "numbers", "complexity"], seeds,
                              paths=paths, data_dir=data_dir))
        runs.append(work / f"run-{source}")
    return runs, total


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--data-dir", default=os.environ.get("AUGMATH_DATA_DIR", "packaged"))
    p.add_argument("--skip-baseline", action="store_true")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="augmath-bench-build-"))
    try:
        runs, total = make_runs(work, args.rows, args.data_dir)
        size = sum((r / "items.jsonl").stat().st_size for r in runs)
        print(f"input: {total:,} rows in {len(runs)} run folders, {size / 1e6:,.0f} MB of items.jsonl "
              f"(seeds from {args.data_dir})")
        floor = child("import", work / "none", args.data_dir, runs)["maxrss_mb"]
        ours = child("augmath", work / "ds", args.data_dir, runs)
        import datasets

        t = time.perf_counter()
        loaded = datasets.load_dataset(str(work / "ds"), "default", split="train",
                                       cache_dir=str(work / "cache-load")).num_rows
        load_s = time.perf_counter() - t
        assert loaded == total, (loaded, total)
        print(f"augmath build : {ours['seconds']:7.1f} s  {total / ours['seconds']:9,.0f} rows/s  "
              f"peak RSS {ours['maxrss_mb']:7.0f} MB ({ours['maxrss_mb'] - floor:6.0f} MB over import)")
        print(f"  load_dataset(default) of the result: {loaded:,} rows in {load_s:.1f} s")
        if not args.skip_baseline:
            base = child("baseline", work / "base", args.data_dir, runs)
            print(f"baseline      : {base['seconds']:7.1f} s  {total / base['seconds']:9,.0f} rows/s  "
                  f"peak RSS {base['maxrss_mb']:7.0f} MB ({base['maxrss_mb'] - floor:6.0f} MB over import)")
            print(f"ratio augmath/baseline: speed x{base['seconds'] / ours['seconds']:.2f}, "
                  f"memory over import x{(ours['maxrss_mb'] - floor) / max(1.0, base['maxrss_mb'] - floor):.2f}")
        print(f"import-only process peak RSS: {floor:.0f} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
