"""Which plain transformers loop scores bits per byte fastest on this CPU, and does bf16 change the numbers?

    nice -n 10 python benchmarks/likelihood_modes.py --n 24              # SmolLM2-135M, the first 24 GSM8K test items

The baseline `benchmarks/likelihood.py` compares augmath's path against: one plain loop (benchmarks/likelihood.py
`plain_loop`, longest first, right padding) run at each of dtype {float32, bfloat16} x batch {1, 8} on the same
items and threads, after one warm-up pass. Printed per mode: forward seconds, tokens/s, the speed ratio against
fp32 at batch 1, and the largest per-item change in bits per byte against fp32 batch 1, next to the item noise of
the mean (its standard error over items): bf16 is usable only where its per-item change is far below that noise.
No lighteval, no augmath eval: this picks the baseline and the dtype, it does not time augmath.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from likelihood import plain_loop  # benchmarks/likelihood.py: the plain loop augmath is compared against

from augmath import sources
from augmath.eval_tasks.likelihood import reference_solution
from augmath.models import resolve_model


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=24)
    p.add_argument("--benchmark", default="gsm8k")
    p.add_argument("--model", default="embedded")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--batches", default="1,8")
    p.add_argument("--dtypes", default="float32,bfloat16")
    args = p.parse_args(argv)
    model = resolve_model(args.model)
    records = sources.load(args.benchmark, "test", data_dir="packaged")[:args.n]
    items = [{"question": r.question, "reference": reference_solution({"solution": r.solution, "answer": r.answer,
                                                                       "id": r.id, "meta": r.meta}, args.benchmark)}
             for r in records]
    plain_loop(model, items[:2], "float32", 1, args.threads)  # warm-up: first-call allocations, thread pool
    modes = [(d, int(b)) for d in args.dtypes.split(",") for b in args.batches.split(",")]
    out = {}
    for dtype, batch in modes:
        load = os.getloadavg()[0]
        t0 = time.monotonic()
        r = plain_loop(model, items, dtype, batch, args.threads)
        out[(dtype, batch)] = {**r, "wall": time.monotonic() - t0, "load": load}
    ref = np.array(out[modes[0]]["bpb"])
    noise = float(ref.std(ddof=1) / np.sqrt(len(ref)))
    rows = []
    for (dtype, batch), r in out.items():
        bpb = np.array(r["bpb"])
        rows.append({"dtype": dtype, "batch": batch, "forward_s": round(r["seconds"], 2),
                     "tokens_per_s": round(r["tokens"] / r["seconds"], 1),
                     "speed_vs_first": round(out[modes[0]]["seconds"] / r["seconds"], 3),
                     "max_abs_bpb_change": float(np.abs(bpb - ref).max()),
                     "mean_bpb_change": float((bpb - ref).mean()), "load_average_1min": round(r["load"], 2)})
    print(json.dumps({"items": len(items), "tokens": out[modes[0]]["tokens"], "threads": args.threads,
                      "item_noise_of_mean_bpb": noise, "modes": rows}, indent=2))
    for r in rows:
        print(f"{r['dtype']:>9} batch {r['batch']:>2}: {r['forward_s']:6.1f} s  {r['tokens_per_s']:7.1f} tok/s  "
              f"x{r['speed_vs_first']:.2f} vs {modes[0][0]} batch {modes[0][1]}  max |Δbpb| per item "
              f"{r['max_abs_bpb_change']:.1e} (mean {r['mean_bpb_change']:+.1e}; item noise of the mean {noise:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
