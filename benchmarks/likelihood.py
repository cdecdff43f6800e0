"""Benchmark + cross-check: the likelihood task (`augmath eval --tasks gsm8k_bpb`) against plain transformers loops.

    nice -n 10 python benchmarks/likelihood.py --n 32 --repeats 2                 # SmolLM2-135M, 32 GSM8K test items
    nice -n 10 python benchmarks/likelihood.py --task svamp_bpb --n 48 --repeats 2
    nice -n 10 python benchmarks/likelihood.py --n 16 --dtype bfloat16             # the same in bf16

Four sides score the same items (the ids lighteval picked) on the same converted SmolLM2-135M folder with the same
dtype, batch size and threads, tokenized as training does (the Alpaca prompt alone with the tokenizer's special
tokens, the reference alone without, then eos), longest first, right padding, fp32 log-softmax:
- `augmath eval` with augmath's scorer (eval_tasks/scorer.py: the output layer on the reference positions only,
  the shared prompt prefix computed once);
- `augmath eval --scorer lighteval` (lighteval's own `_loglikelihood_tokens`);
- a plain transformers loop: `model(ids).logits`, log-softmax everywhere, the reference positions kept;
- the best plain loop we know: the same with transformers' own `logits_to_keep` (the output layer from the first
  reference position on).
Timed: the two `augmath eval` runs' model phase (lighteval's RUNNING MODEL -> COMPUTING METRICS log lines: the
forward passes and the per-item bookkeeping; no imports, no model load) against the plain loops' forward passes
(model load excluded too), and `augmath eval` end to end, whose difference to its model phase is the fixed cost
per model of a lone `augmath eval`; then once more forked from a warm lighteval (eval_tasks/warm.py, as every
evaluation of an experiment is): the fixed cost per model inside an experiment. Printed:
items/s and tokens/s of each side, the ratio augmath / best plain (above 1: augmath is faster), and the largest
per-item difference in bits per byte between any two sides (they compute the same number). `--repeats R`
alternates the sides R times (A B C D A B C D ...) and averages, so a machine whose load drifts biases none.
lighteval's own perplexity metrics are not a separate baseline: `target_perplexity` runs through the same
log-likelihood requests (same cost) and the PERPLEXITY ones score the whole text without a prompt, a different number.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import tempfile
import time
from pathlib import Path

from eval import generation_seconds  # benchmarks/eval.py: lighteval's model-phase seconds from its log

from augmath.cli import main as augmath_main
from augmath.eval_tasks.warm import WARM_ENV, WarmServer
from augmath.models import resolve_model
from augmath.prompts import format_prompt


def plain_loop(model_dir: str, items: list[dict], dtype: str, batch_size: int, threads: int | None,
               keep: bool) -> dict:
    """Bits per byte of reference + eos after the training prompt with nothing but transformers. `keep`: the
    output layer only from the first reference position on (transformers' own `logits_to_keep`), else everywhere."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if threads:
        torch.set_num_threads(threads)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, dtype)).eval()
    seqs = []
    for it in items:
        prompt = tok(format_prompt(it["question"]), add_special_tokens=True)["input_ids"]
        cont = tok(it["reference"], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        seqs.append((prompt, cont))
    order = sorted(range(len(seqs)), key=lambda i: -(len(seqs[i][0]) + len(seqs[i][1])))
    bpb = [0.0] * len(seqs)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    t0 = time.monotonic()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            width = max(len(seqs[i][0]) + len(seqs[i][1]) for i in batch)
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            for row, i in enumerate(batch):
                full = seqs[i][0] + seqs[i][1]
                ids[row, :len(full)] = torch.tensor(full)
            # logits for positions offset..width-1 only (logits_to_keep=0 means all of them)
            offset = min(len(seqs[i][0]) for i in batch) - 1 if keep else 0
            logits = model(ids, logits_to_keep=width - offset if keep else 0).logits
            logp = torch.log_softmax(logits.float(), dim=-1)
            for row, i in enumerate(batch):
                prompt, cont = seqs[i]
                positions = torch.arange(len(prompt) - 1, len(prompt) + len(cont) - 1) - offset
                nll = -float(logp[row, positions, torch.tensor(cont)].sum())
                bpb[i] = nll / math.log(2) / len(items[i]["reference"].encode("utf-8"))
    seconds = time.monotonic() - t0
    return {"seconds": seconds, "bpb": bpb, "tokens": sum(len(p) + len(c) for p, c in seqs)}


def run_eval(argv_eval: list[str], out: Path) -> tuple[float, float]:
    """One `augmath eval`: (end-to-end seconds, lighteval's model-phase seconds)."""
    t0 = time.monotonic()
    if augmath_main(argv_eval) != 0:
        raise SystemExit(f"augmath eval failed; log: {out / 'lighteval' / 'lighteval.log'}")
    return time.monotonic() - t0, generation_seconds(out / "lighteval" / "lighteval.log")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="gsm8k_bpb", help="a likelihood task (gsm8k_bpb, math500_bpb, svamp_bpb, ...)")
    p.add_argument("--n", type=int, default=200, help="items (lighteval's fixed random subset)")
    p.add_argument("--model", default="embedded", help="model folder (default: the embedded SmolLM2-135M)")
    p.add_argument("--data-dir", default=None, help="default $AUGMATH_DATA_DIR")
    p.add_argument("--batch-size", type=int, default=1, help="every side's batch size (1 is the fastest on CPU)")
    p.add_argument("--dtype", default="float32", help="float32 or bfloat16")
    p.add_argument("--threads", type=int, default=None, help="torch threads for the plain loops (default: torch's)")
    p.add_argument("--keep", default=None, help="keep the results folders here (default: a temp dir)")
    p.add_argument("--repeats", type=int, default=1, help="alternate the sides this many times (times summed)")
    args = p.parse_args(argv)

    model = resolve_model(args.model)
    root = Path(args.keep or tempfile.mkdtemp(prefix="augmath-bpb-bench-"))

    def eval_argv(scorer: str) -> list[str]:
        return ["eval", "--model", model, "--tasks", args.task, "--max-samples", str(args.n), "--no-cache",
                "--batch-size", str(args.batch_size), "--dtype", args.dtype, "--device", "cpu", "--quiet",
                "--no-card", "--scorer", scorer, "--out", str(root / scorer)] + (
                    ["--data-dir", args.data_dir] if args.data_dir else [])

    sides = ("continuation", "lighteval", "plain", "plain_keep")
    seconds = dict.fromkeys(sides, 0.0)
    total = dict.fromkeys(("continuation", "lighteval"), 0.0)
    loads, rows, bpbs = [], {}, {}
    for _ in range(max(1, args.repeats)):  # A B C D A B C D ...: a drifting load biases no side
        for side in sides:
            loads.append(os.getloadavg()[0])
            if side in total:
                whole, phase = run_eval(eval_argv(side), root / side)
                total[side] += whole
                seconds[side] += phase
                rows[side] = [json.loads(line) for line in
                              (root / side / "details" / f"{args.task}.jsonl").read_text().splitlines()]
                bpbs[side] = [r["bpb"] for r in rows[side]]
            else:
                got = plain_loop(model, rows["continuation"], args.dtype, args.batch_size, args.threads,
                                 keep=side == "plain_keep")
                seconds[side] += got["seconds"]
                bpbs[side], tokens = got["bpb"], got["tokens"]
    # the fixed cost inside an experiment: the same `augmath eval`, forked from a warm lighteval
    with WarmServer(root / "warm-lighteval.log") as server:
        if not server.wait_ready():
            raise SystemExit(f"the warm lighteval did not start; log: {root / 'warm-lighteval.log'}")
        os.environ.update(server.env())
        try:
            whole, phase = run_eval(eval_argv("continuation"), root / "continuation")
        finally:
            os.environ.pop(WARM_ENV, None)
    forked_fixed = whole - phase
    runs = max(1, args.repeats)
    seconds = {k: v / runs for k, v in seconds.items()}
    total = {k: v / runs for k, v in total.items()}
    n = len(rows["continuation"])
    best_plain = min(("plain", "plain_keep"), key=seconds.get)
    diff = max(abs(a - b) for side in sides[1:] for a, b in zip(bpbs["continuation"], bpbs[side]))
    summary = json.loads((root / "continuation" / "results.json").read_text())["tasks"][args.task]

    def speed(side: str) -> dict:
        return {"seconds": round(seconds[side], 2), "items_per_s": round(n / seconds[side], 2),
                "tokens_per_s": round(tokens / seconds[side], 1)}

    report = {
        "task": args.task, "items": n, "tokens": tokens, "dtype": args.dtype, "batch_size": args.batch_size,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(), "repeats": runs,
        "load_average_1min": [round(x, 2) for x in loads],
        "augmath_eval": {**speed("continuation"), "end_to_end_s": round(total["continuation"], 2),
                         "fixed_cost_s": round(total["continuation"] - seconds["continuation"], 2),
                         "fixed_cost_forked_s": round(forked_fixed, 2)},
        "augmath_eval_lighteval_scorer": {**speed("lighteval"), "end_to_end_s": round(total["lighteval"], 2)},
        "plain_transformers": speed("plain"), "plain_transformers_logits_to_keep": speed("plain_keep"),
        "best_plain": best_plain,
        "ratio_augmath_over_best_plain": round(seconds[best_plain] / seconds["continuation"], 3),
        "ratio_lighteval_scorer_over_best_plain": round(seconds[best_plain] / seconds["lighteval"], 3),
        "bpb": summary["bpb"], "bpb_ci": summary["bpb_ci"], "max_abs_bpb_difference": diff,
    }
    print(json.dumps(report, indent=2))
    print(f"\n{args.task}: {n} items, {tokens:,} tokens, {args.dtype}, batch {args.batch_size}, model phase only "
          f"(no imports, no model load)")
    for side, label in (("continuation", "augmath eval (continuation scorer)"),
                        ("lighteval", "augmath eval --scorer lighteval"), ("plain", "plain transformers loop"),
                        ("plain_keep", "plain loop, logits_to_keep")):
        print(f"  {label:36s} {seconds[side]:6.1f} s  {n / seconds[side]:5.2f} items/s  "
              f"{tokens / seconds[side]:5.0f} tok/s")
    print(f"  speed ratio augmath / best plain ({best_plain}): {seconds[best_plain] / seconds['continuation']:.3f}"
          f"   (lighteval's own loop / best plain: {seconds[best_plain] / seconds['lighteval']:.3f})\n"
          f"  fixed cost per model (augmath eval end to end minus its model phase): "
          f"{total['continuation'] - seconds['continuation']:.1f} s alone, {forked_fixed:.1f} s forked from the warm "
          f"lighteval (as in an experiment)\n"
          f"  bits/byte {summary['bpb']:.4f} [{summary['bpb_ci'][0]:.4f}, {summary['bpb_ci'][1]:.4f}]   "
          f"max |delta bpb| per item between any two sides {diff:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
