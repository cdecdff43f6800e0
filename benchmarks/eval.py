"""Benchmark + cross-check: `augmath eval` through the embedded llama.cpp server (endpoint) vs lighteval's accelerate.

    nice -n 10 python benchmarks/eval.py --n 64                       # GSM8K test subset, both backends, same run
    nice -n 10 python benchmarks/eval.py --tasks gsm8k,math500 --n 0 --keep outputs/eval_bench   # full sets
    # on a GPU: llama-server built with CUDA (AUGMATH_LLAMA_SERVER), transformers on cuda; see docs/evaluation.md
    AUGMATH_LLAMA_SERVER=llama.cpp/build/bin/llama-server python benchmarks/eval.py --tasks gsm8k,math500 --n 0 \
        --server-args="--n-gpu-layers 99" --concurrency 64 --device cuda --dtype float32 --batch-size 256 --keep R

Both backends score SmolLM2-135M-Instruct on the same items with the same prompt (the Alpaca training prompt,
greedy, the tasks' stop sequences and generation sizes): the endpoint backend talks to augmath's embedded
llama-server (the Q4_1 GGUF), the accelerate backend runs the same model converted to an fp32 HF folder
(augmath.models.convert_embedded) in transformers, no answer cache (--no-cache). Printed per backend:
samples/s over the generation phase (lighteval's RUNNING MODEL -> COMPUTING METRICS), end to end (the whole
`augmath eval` command: imports, data, model load, generation, grading), output tokens/s, and accuracy. Then
the ratio endpoint/accelerate, and whether the two accuracies agree within noise (paired over the same items:
a McNemar exact test on the discordant items, and the 95% interval of the accuracy difference).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import re
import shlex
import sys
import tempfile
import time
from pathlib import Path

from scipy.stats import binomtest

from augmath.cli import main as augmath_main
from augmath.models import convert_embedded, cache_dir
from augmath.engine.server import EmbeddedServer

STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\].*--- (RUNNING MODEL|COMPUTING METRICS) ---")


def generation_seconds(log: Path) -> float:
    """Seconds between lighteval's RUNNING MODEL and COMPUTING METRICS log lines."""
    marks = {}
    for line in log.read_text(errors="replace").splitlines():
        m = STAMP.match(re.sub(r"\x1b\[[0-9;]*m", "", line))
        if m:
            marks[m.group(2)] = dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f")
    return (marks["COMPUTING METRICS"] - marks["RUNNING MODEL"]).total_seconds()


def run_backend(name: str, argv: list[str], out: Path) -> dict:
    t0 = time.monotonic()
    code = augmath_main(["eval", *argv, "--out", str(out), "--quiet"])
    total = time.monotonic() - t0
    if code != 0:
        raise SystemExit(f"{name}: augmath eval failed (exit {code}); log: {out / 'lighteval' / 'lighteval.log'}")
    results = json.loads((out / "results.json").read_text())
    return {"name": name, "out": out, "results": results, "total_s": total,
            "gen_s": generation_seconds(out / "lighteval" / "lighteval.log")}


def read_back(name: str, out: Path) -> dict | None:
    """An earlier run's results, or None when there is none (its whole-command time was not kept: the generation
    time stands in for it)."""
    if not (out / "results.json").is_file():
        print(f"{name}: no {out / 'results.json'} (not run yet): reporting the other backend alone")
        return None
    gen = generation_seconds(out / "lighteval" / "lighteval.log")
    return {"name": name, "out": out, "results": json.loads((out / "results.json").read_text()),
            "total_s": gen, "gen_s": gen}


def details(out: Path, task: str) -> dict[str, dict]:
    return {r["id"]: r for r in map(json.loads, (out / "details" / f"{task}.jsonl").read_text().splitlines())}


def agreement(a: dict[str, dict], b: dict[str, dict]) -> dict:
    ids = sorted(set(a) & set(b))
    both = sum(a[i]["correct"] and b[i]["correct"] for i in ids)
    only_a = sum(a[i]["correct"] and not b[i]["correct"] for i in ids)
    only_b = sum(b[i]["correct"] and not a[i]["correct"] for i in ids)
    same_answer = sum(a[i]["extracted"] == b[i]["extracted"] for i in ids)
    same_text = sum(a[i]["output"].strip() == b[i]["output"].strip() for i in ids)
    n = len(ids)
    diff = (only_a - only_b) / n
    # Paired difference of proportions: var = (b + c - (b - c)^2 / n) / n^2
    se = math.sqrt(max(only_a + only_b - (only_a - only_b) ** 2 / n, 0)) / n
    p = binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
    return {"n": n, "both_correct": both, "only_endpoint": only_a, "only_accelerate": only_b,
            "same_extracted": same_answer, "same_output": same_text, "acc_diff": diff,
            "acc_diff_ci95": (diff - 1.96 * se, diff + 1.96 * se), "mcnemar_p": p}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", default="gsm8k")
    p.add_argument("--n", type=int, default=64, help="items per task (a fixed random subset); 0 = the full set")
    p.add_argument("--data-dir", default=None, help="default $AUGMATH_DATA_DIR")
    p.add_argument("--batch-size", type=int, default=8, help="accelerate backend batch size")
    p.add_argument("--concurrency", type=int, default=8, help="endpoint requests in flight = server slots")
    p.add_argument("--max-new-tokens", type=int, default=None, help="default: the tasks' generation sizes")
    p.add_argument("--device", default="auto", help="accelerate backend device: auto, cpu, cuda")
    p.add_argument("--dtype", default=None, help="accelerate backend dtype (default float32 on CPU, bfloat16 on GPU)")
    p.add_argument("--server-args", default="", help="extra llama-server arguments, e.g. '--n-gpu-layers 99'")
    p.add_argument("--keep", default=None, help="keep both results folders here (default: a temp dir)")
    p.add_argument("--backends", default="endpoint,accelerate",
                   help="backends to run now (or 'none': only report); a backend left out is read back from --keep "
                        "(a finished earlier run, e.g. one run at the same time in another process)")
    args = p.parse_args(argv)
    run_now = set(args.backends.split(",")) - {"none"}
    if run_now - {"endpoint", "accelerate"}:
        p.error(f"--backends: unknown {sorted(run_now - {'endpoint', 'accelerate'})}; valid: endpoint, accelerate, none")
    if run_now != {"endpoint", "accelerate"} and not args.keep:
        p.error("--backends with fewer than both backends needs --keep DIR (results not run now are read from there)")

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="augmath-eval-bench-"))
    common = ["--tasks", args.tasks, "--no-cache"]
    if args.n:
        common += ["--max-samples", str(args.n)]
    if args.data_dir:
        common += ["--data-dir", args.data_dir]
    if args.max_new_tokens:
        common += ["--max-new-tokens", str(args.max_new_tokens)]
    hf_model = convert_embedded(cache_dir() / "models" / "SmolLM2-135M-Instruct")  # once, outside the timing
    if "endpoint" in run_now:
        with EmbeddedServer(parallel=args.concurrency, extra_args=shlex.split(args.server_args)) as server:
            endpoint = run_backend("endpoint (llama-server, Q4_1)",
                                   ["--backend", "endpoint", "--base-url", server.base_url,
                                    "--concurrency", str(args.concurrency), *common], root / "endpoint")
    else:
        endpoint = read_back("endpoint (llama-server, Q4_1)", root / "endpoint")
    if "accelerate" in run_now:
        accelerate = run_backend("accelerate (transformers, fp32)",
                                 ["--backend", "accelerate", "--model", str(hf_model),
                                  "--batch-size", str(args.batch_size), "--device", args.device,
                                  *(["--dtype", args.dtype] if args.dtype else []), *common], root / "accelerate")
    else:
        accelerate = read_back("accelerate (transformers, fp32)", root / "accelerate")

    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(hf_model)
    print(f"\nSmolLM2-135M-Instruct, tasks {args.tasks}, n={args.n or 'all'} per task, results in {root}")
    print(f"{'backend':34s} {'samples':>7s} {'gen s':>8s} {'samples/s':>9s} {'tok/s':>7s} {'e2e s':>8s} "
          f"{'e2e samples/s':>13s}  accuracy")
    rates = {}
    for run in filter(None, (endpoint, accelerate)):
        tasks = run["results"]["tasks"]
        n = sum(t["n"] for t in tasks.values())
        tokens = sum(len(tok(r["output"])["input_ids"]) for task in tasks
                     for r in details(run["out"], task).values())
        rates[run["name"]] = n / run["gen_s"]
        accs = ", ".join(f"{k} {v['accuracy']:.4f}±{v['stderr']:.4f}" for k, v in tasks.items())
        print(f"{run['name']:34s} {n:7d} {run['gen_s']:8.1f} {n / run['gen_s']:9.3f} {tokens / run['gen_s']:7.1f} "
              f"{run['total_s']:8.1f} {n / run['total_s']:13.3f}  {accs}")
    if not (endpoint and accelerate):
        return 0
    e, a = rates.values()
    print(f"ratio endpoint/accelerate (generation samples/s): {e / a:.2f}x")
    for task in endpoint["results"]["tasks"]:
        ag = agreement(details(endpoint["out"], task), details(accelerate["out"], task))
        lo, hi = ag["acc_diff_ci95"]
        print(f"{task}: n={ag['n']} both right {ag['both_correct']}, only endpoint {ag['only_endpoint']}, "
              f"only accelerate {ag['only_accelerate']}; same extracted answer {ag['same_extracted']}/{ag['n']}, "
              f"identical output {ag['same_output']}/{ag['n']}; acc diff {ag['acc_diff']:+.4f} "
              f"(95% CI {lo:+.4f}..{hi:+.4f}), McNemar p={ag['mcnemar_p']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
