"""Bootstrap over evaluation items: intervals for means and for paired differences.

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
