"""The normalised transfer index: how much of a strategy's in-domain change carries over to other benchmarks.

For a strategy at data amount N, against the `original` data of the same source at the same N (MuggleMath's
out-of-domain question, "does augmented GSM8K help on MATH?"):

    index = mean cross-domain change / mean in-domain change

each change being the strategy's score minus the original's on the same items, averaged over the in-domain or
the cross-domain benchmarks. 1 = the whole in-domain gain carries over, 0 = none of it, < 0 = what helps in domain
hurts out of it. The interval comes from the seeds x items bootstrap (augmath.stats): a replicate draws
each configuration's seeds once (the same seed models score every benchmark) and every benchmark's items once
(shared by both configurations: paired), and recomputes the ratio. A ratio is only meaningful when its
denominator is clearly non-zero, so the index is marked `defined: false` when the in-domain change's own interval
includes 0; its interval is then unbounded in practice and is reported only for completeness.
"""

from __future__ import annotations

import numpy as np

from augmath.analysis.results import ResultsFolder
from augmath.stats import CHUNK, percentile_interval


def _replicates(strategy: list[ResultsFolder], original: list[ResultsFolder], tasks: list[str], resamples: int,
                rng: np.random.Generator) -> np.ndarray:
    """(tasks, resamples) bootstrap changes strategy - original, seeds drawn once per replicate for all tasks."""
    from augmath.analysis.seeds import common_keys, seed_table

    tables = []
    for t in tasks:
        keys = common_keys(strategy + original, t)
        tables.append((seed_table(strategy, t, keys), seed_table(original, t, keys)))
    out = np.empty((len(tasks), resamples))
    sa, sb = len(strategy), len(original)
    for start in range(0, resamples, CHUNK):
        size = min(CHUNK, resamples - start)
        pick_a, pick_b = rng.integers(0, sa, size=(size, sa)), rng.integers(0, sb, size=(size, sb))
        for i, (a, b) in enumerate(tables):
            m = a.shape[1]
            w = rng.multinomial(m, np.full(m, 1.0 / m), size=size)
            mean_a = np.take_along_axis(w @ a.T / m, pick_a, axis=1).mean(axis=1)
            mean_b = np.take_along_axis(w @ b.T / m, pick_b, axis=1).mean(axis=1)
            out[i, start:start + size] = mean_a - mean_b
    return out


def transfer_index(strategy: list[ResultsFolder], original: list[ResultsFolder], in_domain: list[str],
                   cross_domain: list[str], *, confidence: float = 0.95, resamples: int = 2000,
                   seed: int = 0) -> dict | None:
    """The index of one strategy against its original data (each a list of seed runs at the same N) over the
    given likelihood or accuracy tasks; None without at least one task on each side."""
    from augmath.analysis.seeds import seed_table

    if not in_domain or not cross_domain:
        return None
    tasks = in_domain + cross_domain
    change = [float(seed_table(strategy, t).mean() - seed_table(original, t).mean()) for t in tasks]
    d_in, d_x = np.mean(change[:len(in_domain)]), np.mean(change[len(in_domain):])
    boot = _replicates(strategy, original, tasks, resamples, np.random.default_rng(seed))
    b_in, b_x = boot[:len(in_domain)].mean(axis=0), boot[len(in_domain):].mean(axis=0)
    in_ci = percentile_interval(b_in, confidence)
    defined = in_ci[0] is not None and in_ci[1] is not None and (in_ci[0] > 0 or in_ci[1] < 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(b_in != 0, b_x / np.where(b_in != 0, b_in, 1.0), np.nan)
    ratio = ratio[np.isfinite(ratio)]
    return {"index": float(d_x / d_in) if d_in != 0 else None,
            "ci": percentile_interval(ratio, confidence) if len(ratio) else [None, None],
            "in_domain_change": float(d_in), "in_domain_ci": in_ci,
            "cross_domain_change": float(d_x), "cross_domain_ci": percentile_interval(b_x, confidence),
            "in_domain_tasks": in_domain, "cross_domain_tasks": cross_domain, "defined": bool(defined),
            "seeds": [len(strategy), len(original)], "confidence": confidence}
