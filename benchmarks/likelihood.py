"""Benchmark + cross-check: the likelihood task (`augmath eval --tasks gsm8k_bpb`, lighteval's log-likelihood
requests on its transformers backend) against a plain transformers loop over the same items.

    nice -n 10 python benchmarks/likelihood.py --n 200                       # SmolLM2-135M, 200 GSM8K test items
    nice -n 10 python benchmarks/likelihood.py --n 200 --batch-size 16 --dtype bfloat16 --keep outputs/bpb_bench
    nice -n 10 python benchmarks/likelihood.py --n 64 --repeats 2      # A B A B: on a shared machine, load drifts

Both sides score the same items (the ids lighteval picked) on the same converted SmolLM2-135M folder with the same
dtype and batch size, tokenized as training does (the Alpaca prompt alone with the tokenizer's special tokens, the
reference alone without, then eos), batches of similar length, right padding, fp32 log-softmax. Timed: lighteval's
model phase (its RUNNING MODEL -> COMPUTING METRICS log lines: the forward passes and the per-item bookkeeping; no
imports, no model load) against the plain loop's forward passes (model load excluded too); and the whole
`augmath eval` command end to end (imports, data, model load, metric, results). Printed: items/s and tokens/s of
both, the ratio (lighteval / plain: 1.0 means the lighteval path costs nothing extra), and the largest per-item
difference in bits per byte between the two (they compute the same number). `--repeats R` alternates the two
R times (A B A B ...) and sums the times, so a machine whose load drifts biases neither side. lighteval's own perplexity metrics
are not a separate baseline: `target_perplexity` runs through the same log-likelihood requests (same cost) and
the PERPLEXITY ones score the whole text without a prompt, a different number.
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
from augmath.models import resolve_model
from augmath.prompts import format_prompt


def plain_loop(model_dir: str, items: list[dict], dtype: str, batch_size: int, threads: int | None) -> dict:
    """Bits per byte of reference + eos after the training prompt with nothing but transformers."""
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
            logp = torch.log_softmax(model(ids).logits.float(), dim=-1)
            for row, i in enumerate(batch):
                prompt, cont = seqs[i]
                positions = torch.arange(len(prompt) - 1, len(prompt) + len(cont) - 1)
                nll = -float(logp[row, positions, torch.tensor(cont)].sum())
                bpb[i] = nll / math.log(2) / len(items[i]["reference"].encode("utf-8"))
    seconds = time.monotonic() - t0
    return {"seconds": seconds, "bpb": bpb, "tokens": sum(len(p) + len(c) for p, c in seqs)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="gsm8k_bpb", help="a likelihood task (gsm8k_bpb, math500_bpb, svamp_bpb, ...)")
    p.add_argument("--n", type=int, default=200, help="items (lighteval's fixed random subset)")
    p.add_argument("--model", default="embedded", help="model folder (default: the embedded SmolLM2-135M)")
    p.add_argument("--data-dir", default=None, help="default $AUGMATH_DATA_DIR")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--dtype", default="float32", help="float32 (fast on AVX2-only CPUs) or bfloat16")
    p.add_argument("--threads", type=int, default=None, help="torch threads for the plain loop (default: torch's)")
    p.add_argument("--keep", default=None, help="keep the results folder here (default: a temp dir)")
    p.add_argument("--repeats", type=int, default=1, help="alternate the two this many times (times summed)")
    args = p.parse_args(argv)

    model = resolve_model(args.model)
    out = Path(args.keep or tempfile.mkdtemp(prefix="augmath-bpb-bench-")) / "lighteval"
    argv_eval = ["eval", "--model", model, "--tasks", args.task, "--max-samples", str(args.n), "--no-cache",
                 "--batch-size", str(args.batch_size), "--dtype", args.dtype, "--device", "cpu", "--quiet",
                 "--out", str(out)] + (["--data-dir", args.data_dir] if args.data_dir else [])
    total = phase = plain_s = 0.0
    loads = []
    for _ in range(max(1, args.repeats)):
        loads.append(os.getloadavg()[0])
        t0 = time.monotonic()
        if augmath_main(argv_eval) != 0:
            raise SystemExit(f"augmath eval failed; log: {out / 'lighteval' / 'lighteval.log'}")
        total += time.monotonic() - t0
        phase += generation_seconds(out / "lighteval" / "lighteval.log")
        results = json.loads((out / "results.json").read_text())
        rows = [json.loads(line) for line in (out / "details" / f"{args.task}.jsonl").read_text().splitlines()]
        loads.append(os.getloadavg()[0])
        plain = plain_loop(model, rows, args.dtype, args.batch_size, args.threads)
        plain_s += plain["seconds"]
    runs = max(1, args.repeats)
    total, phase, plain["seconds"] = total / runs, phase / runs, plain_s / runs

    diff = max(abs(r["bpb"] - b) for r, b in zip(rows, plain["bpb"]))
    n, tokens = len(rows), plain["tokens"]
    summary = results["tasks"][args.task]
    report = {
        "task": args.task, "items": n, "tokens": tokens, "dtype": args.dtype, "batch_size": args.batch_size,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(), "repeats": runs,
        "load_average_1min": [round(x, 2) for x in loads],
        "lighteval": {"model_phase_s": round(phase, 2), "end_to_end_s": round(total, 2),
                      "fixed_cost_s": round(total - phase, 2),
                      "items_per_s": round(n / phase, 2), "tokens_per_s": round(tokens / phase, 1)},
        "plain_transformers": {"forward_s": round(plain["seconds"], 2), "items_per_s": round(n / plain["seconds"], 2),
                               "tokens_per_s": round(tokens / plain["seconds"], 1)},
        "ratio_lighteval_over_plain": round(plain["seconds"] / phase, 3),
        "bpb": summary["bpb"], "bpb_ci": summary["bpb_ci"], "max_abs_bpb_difference": diff,
    }
    print(json.dumps(report, indent=2))
    print(f"\n{args.task}: {n} items, {tokens:,} tokens, {args.dtype}, batch {args.batch_size}\n"
          f"  lighteval (augmath eval): model phase {phase:.1f} s ({n / phase:.2f} items/s, {tokens / phase:.0f} tok/s); "
          f"end to end {total:.1f} s (fixed cost per model {total - phase:.1f} s)\n"
          f"  plain transformers loop:  forward {plain['seconds']:.1f} s ({n / plain['seconds']:.2f} items/s)\n"
          f"  speed ratio lighteval / plain: {plain['seconds'] / phase:.3f}   bits/byte {summary['bpb']:.4f} "
          f"[{summary['bpb_ci'][0]:.4f}, {summary['bpb_ci'][1]:.4f}]   max |Δ bpb| per item {diff:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
