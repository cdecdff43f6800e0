"""How often does `augmath fit` pick the right model, and do its intervals cover the truth?

Simulates scaling studies with known truth and realistic evaluation noise (per-item Bernoulli correctness on a
GSM8K-test-sized set, 1,319 items, the same items at every N), fits each with `fit_points`, and reports:
  - false-breakpoint rate: segmented selected when the truth is log-linear;
  - detection rate: segmented selected when the truth has a breakpoint;
  - coverage of the 95% bootstrap interval for the log-linear slope (log-linear truth).
Baseline in the same run: the textbook Gaussian BIC with the residual variance *estimated* from the points
(n·ln(SSE/n) + k·ln n), which augmath's known-variance BIC replaces. Prints both and their ratio.

    python benchmarks/fit_calibration.py [--sims 200] [--points 5,7] [--resamples 300] [--independent]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from augmath.analysis.fit import BIC_MARGIN, Point, fit_points

ITEMS = 1319


def simulate(ns, truth, rng, independent=False):
    """Shared: one latent difficulty per item for every N (nested correctness, like one test set scored by ever
    better models). Independent: a fresh draw per N (no correlation between points: the harder case)."""
    ability = rng.random(ITEMS)
    points = []
    for n in ns:
        if independent:
            ability = rng.random(ITEMS)
        ok = ability < truth(n)
        points.append(Point(float(n), float(ok.mean()), ITEMS, ok, [str(j) for j in range(ITEMS)], f"N={n}"))
    return points


def residual_bic_prefers_segmented(fit) -> bool:
    n = len(fit["points"])
    lin, seg = fit["models"]["loglinear"], fit["models"]["segmented"]
    if not seg["fitted"] or n < 5:
        return False
    bic = lambda sse, k: n * math.log(max(sse, 1e-15) / n) + k * math.log(n)  # noqa: E731
    return bic(seg["sse"], 5) < bic(lin["sse"], 3) - BIC_MARGIN


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sims", type=int, default=200)
    p.add_argument("--points", default="5,7")
    p.add_argument("--resamples", type=int, default=300)
    p.add_argument("--independent", action="store_true", help="independent noise per point (no shared items)")
    args = p.parse_args()
    rng = np.random.default_rng(2024)
    lin_truth = lambda n: 0.10 + 0.04 * math.log(n / 250)  # noqa: E731
    c = math.log(2000)
    seg_truth = lambda n: 0.20 + 0.01 * math.log(n / 250) + 0.07 * max(0.0, math.log(n) - c)  # noqa: E731
    for k in [int(v) for v in args.points.split(",")]:
        ns = [250 * 2 ** i for i in range(k)]
        start = time.perf_counter()
        fp = fp_base = det = det_base = covered = 0
        for _ in range(args.sims):
            f = fit_points(simulate(ns, lin_truth, rng, args.independent), resamples=args.resamples, seed=int(rng.integers(1 << 30)))
            fp += f["selected"] == "segmented"
            fp_base += residual_bic_prefers_segmented(f)
            lo, hi = f["models"]["loglinear"]["ci"]["b"]
            covered += lo <= 0.04 <= hi
            g = fit_points(simulate(ns, seg_truth, rng, args.independent), resamples=args.resamples, seed=int(rng.integers(1 << 30)))
            det += g["selected"] == "segmented"
            det_base += residual_bic_prefers_segmented(g)
        secs = (time.perf_counter() - start) / (2 * args.sims)
        s = args.sims
        noise = "independent" if args.independent else "shared-item"
        print(f"{k} points (N={ns[0]}..{ns[-1]}), {noise} noise, {s} simulations each, {secs:.2f} s per fit:")
        print(f"  false-breakpoint rate  augmath {fp / s:.1%}   residual-variance BIC {fp_base / s:.1%}"
              f"   ratio {fp / max(fp_base, 1):.2f}")
        print(f"  detection rate         augmath {det / s:.1%}   residual-variance BIC {det_base / s:.1%}")
        print(f"  95% slope CI coverage (log-linear truth): {covered / s:.1%}")


if __name__ == "__main__":
    main()
