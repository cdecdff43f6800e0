"""Bootstrap over evaluation items (and, given several, training seeds): intervals for means and paired differences.

Every per-item score of a results folder (0/1 correctness, or bits per byte of the reference solution) is
resampled the same way: a replicate draws the items with replacement (multinomial weights) and takes the weighted
mean. Rows of one table are items, columns are the models (or points) scored on those items, so one weight
matrix serves every column and the columns stay paired: differences between columns keep the correlation a
shared test set induces (a model that finds an item hard tends to find it hard after more training too).
"""

from __future__ import annotations

import math

import numpy as np

CHUNK = 200  # replicates per weight matrix: bounds memory at CHUNK x items


def bootstrap_means(table: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(items,) or (items, columns) -> (columns, resamples) bootstrap means, items resampled jointly."""
    table = np.asarray(table, dtype=float)
    if table.ndim == 1:
        table = table[:, None]
    m = table.shape[0]
    if m == 0:
        raise ValueError("no items to resample")
    out = np.empty((table.shape[1], resamples))
    for start in range(0, resamples, CHUNK):
        stop = min(start + CHUNK, resamples)
        weights = rng.multinomial(m, np.full(m, 1.0 / m), size=stop - start)
        out[:, start:stop] = (weights @ table / m).T
    return out


def percentile_interval(values: np.ndarray, confidence: float) -> list[float | None]:
    """The central `confidence` percentile interval; None for an infinite end (a target never reached)."""
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(values, [alpha, 1 - alpha], method="inverted_cdf")
    return [finite(lo), finite(hi)]


def finite(v) -> float | None:
    v = float(v)
    return (0.0 if abs(v) < 1e-12 else v) if math.isfinite(v) else None  # no "-0.0000" from rounding noise


def mean_interval(values, *, confidence: float = 0.95, resamples: int = 2000, seed: int = 0) -> list[float | None]:
    """Bootstrap percentile interval of the mean of per-item values."""
    boot = bootstrap_means(np.asarray(values, dtype=float), resamples, np.random.default_rng(seed))[0]
    return percentile_interval(boot, confidence)


def paired_difference(a, b, *, confidence: float = 0.95, resamples: int = 2000, seed: int = 0) -> dict:
    """mean(a) - mean(b) over the same items (a[i] and b[i] score item i), with its paired bootstrap interval.

    `excludes_zero` is True when the whole interval lies on one side of 0: only then does the report call the
    difference a finding."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired difference needs two equal-length item vectors (got {a.shape} and {b.shape})")
    boot = bootstrap_means(a - b, resamples, np.random.default_rng(seed))[0]
    lo, hi = percentile_interval(boot, confidence)
    return {"difference": float(a.mean() - b.mean()), "ci": [lo, hi], "n": int(len(a)), "confidence": confidence,
            "excludes_zero": lo is not None and hi is not None and (lo > 0 or hi < 0)}


# ------------------------------------------------------------ two noise sources: training seeds x evaluation items
#
# With several training seeds per configuration, a score has two sources of noise: which items the benchmark drew
# and which seed trained the model. Every seed's model is scored on the same items, so the two factors are
# *crossed*, not nested, and a replicate resamples both independently: the items once (one multinomial weight
# vector shared by every run, so comparisons stay paired over items) and, per configuration, its seeds with
# replacement. This is the pigeonhole bootstrap for crossed designs (Owen 2007, "The pigeonhole bootstrap",
# Ann. Appl. Stat. 1(2)); resampling seed runs as the upper level follows the two-stage bootstrap of Davison &
# Hinkley (1997, sec. 3.8), and seed variance as a separate term of evaluation noise follows Madaan et al. (2024,
# "Quantifying variance in evaluation benchmarks") and DataDecide (Magnusson et al. 2025). Owen shows it is mildly
# conservative (it counts the seed x item interaction at both levels); with 3 seeds the seed level is itself
# estimated from 3 values, so its part of an interval is rough: more seeds narrow it, more items do not.
# The seed-only and item-only spreads come from the same machinery with the other factor held fixed.

LEVELS = ("seeds", "items")
Z_MDD = 2.8016  # z(0.975) + z(0.80): a two-sided 5% test detecting the difference 80% of the time


def seeded_means(runs: list[np.ndarray], resamples: int, rng: np.random.Generator,
                 levels: tuple[str, ...] = LEVELS) -> np.ndarray:
    """Bootstrap means of configurations, each given as a (seeds, items) table on the same items in the same
    order: (configurations, resamples). `levels` picks what is resampled: seeds, items or both."""
    runs = [np.atleast_2d(np.asarray(r, dtype=float)) for r in runs]
    m = runs[0].shape[1]
    if m == 0 or any(r.shape[1] != m or r.shape[0] == 0 for r in runs):
        raise ValueError("every configuration needs >= 1 seed run scored on the same items")
    out = np.empty((len(runs), resamples))
    for start in range(0, resamples, CHUNK):
        stop = min(start + CHUNK, resamples)
        size = stop - start
        weights = (rng.multinomial(m, np.full(m, 1.0 / m), size=size) if "items" in levels
                   else np.ones((size, m)))
        for c, table in enumerate(runs):
            per_seed = weights @ table.T / m  # (replicates, seeds): each seed's mean under the item weights
            s = table.shape[0]
            if "seeds" in levels and s > 1:
                picks = rng.integers(0, s, size=(size, s))
                per_seed = np.take_along_axis(per_seed, picks, axis=1)
            out[c, start:stop] = per_seed.mean(axis=1)
    return out


def seeded_difference(a: np.ndarray, b: np.ndarray, *, confidence: float = 0.95, resamples: int = 2000,
                      seed: int = 0) -> dict:
    """mean(a) - mean(b) for two configurations given as (seeds, items) tables over the same items, with the
    combined interval (seeds and items resampled), the seed-only and item-only spreads (standard deviations of the
    replicates), and the minimal detectable difference at these sizes (2.80 x the combined standard error: 5%
    two-sided, 80% power). `excludes_zero` reads the combined interval."""
    a, b = np.atleast_2d(np.asarray(a, dtype=float)), np.atleast_2d(np.asarray(b, dtype=float))
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a seeded difference needs the same items in both tables (got {a.shape} and {b.shape})")
    spreads = {}
    for name, levels in (("combined", LEVELS), ("seeds", ("seeds",)), ("items", ("items",))):
        boot = seeded_means([a, b], resamples, np.random.default_rng(seed), levels)
        spreads[name] = boot[0] - boot[1]
    lo, hi = percentile_interval(spreads["combined"], confidence)
    sd = float(spreads["combined"].std(ddof=1))
    return {"difference": float(a.mean() - b.mean()), "ci": [lo, hi], "n": int(a.shape[1]),
            "seeds": [int(a.shape[0]), int(b.shape[0])], "confidence": confidence,
            "sd": sd, "seed_sd": float(spreads["seeds"].std(ddof=1)), "item_sd": float(spreads["items"].std(ddof=1)),
            "mdd": Z_MDD * sd, "method": "pigeonhole bootstrap over training seeds x evaluation items",
            "excludes_zero": lo is not None and hi is not None and (lo > 0 or hi < 0)}


def seeded_interval(table: np.ndarray, *, confidence: float = 0.95, resamples: int = 2000, seed: int = 0) -> dict:
    """The mean of one configuration's (seeds, items) table with its combined interval and the two spreads."""
    table = np.atleast_2d(np.asarray(table, dtype=float))
    boots = {name: seeded_means([table], resamples, np.random.default_rng(seed), levels)[0]
             for name, levels in (("combined", LEVELS), ("seeds", ("seeds",)), ("items", ("items",)))}
    return {"value": float(table.mean()), "ci": percentile_interval(boots["combined"], confidence),
            "sd": float(boots["combined"].std(ddof=1)), "seed_sd": float(boots["seeds"].std(ddof=1)),
            "item_sd": float(boots["items"].std(ddof=1)), "seeds": int(table.shape[0]), "n": int(table.shape[1])}
