"""Where format learning ends: the untrained base model against the smallest N of each fitted curve.

A fine-tuned model first learns the training layout (GSM8K's `<<a=b>>` annotations and `#### N` answer line, the
Alpaca prompt): the first few rows move bits per byte (or accuracy) far more than any later doubling of the data.
That step says little about what the data teaches, so a curve whose every point sits inside it cannot rank
strategies. Per fit this module reports the untrained base's score, the step from it to the smallest N (paired over
the items both scored, with a bootstrap interval), that step in doublings' worth of the fitted slope, and the N from
which the curve is read as the data's effect: the segmented fit's breakpoint when BIC chose the segmented model
and its first piece is the steeper, else the smallest N (the jump is then all in base -> N_min).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from augmath.analysis.results import ResultsFolder

RESAMPLES = 2000


def _base_of(fit: dict, folders: list[ResultsFolder]) -> ResultsFolder | None:
    untrained = [r for r in folders if not r.trained and fit["task"] in r.tasks]
    for r in untrained:  # the same model path, else the same folder name (a converted copy), else the only one
        if r.model == fit["base_model"] or Path(r.model).name == Path(fit["base_model"]).name:
            return r
    return untrained[0] if len(untrained) == 1 else None


def format_jump(fit: dict, folders: list[ResultsFolder], *, seed: int = 0, confidence: float = 0.95) -> dict | None:
    """The base -> N_min step of one fit (an entry of fit.json's "fits"), or None without a base result."""
    base = _base_of(fit, folders)
    if base is None or "error" in fit or not fit.get("points"):
        return None
    first = fit["points"][0]
    values, keys = base.values(fit["task"])
    step = first["value"] - base.score(fit["task"]).value
    # paired over the items both scored; the smallest N's seed runs averaged per item
    mine: dict[str, list[float]] = {}
    for r in folders:
        if r.trained and r.config == fit.get("config") and r.base_model == fit["base_model"] \
                and r.provenance.get("n_train") == first["n_train"] and fit["task"] in r.tasks:
            run_values, run_keys = r.values(fit["task"])
            for key, value in zip(run_keys, run_values):
                mine.setdefault(key, []).append(float(value))
    pairs = [(float(np.mean(mine[k])) - float(b)) for k, b in zip(keys, values) if k in mine]
    ci = [None, None]
    if pairs:
        step = float(np.mean(pairs))
    if len(pairs) >= 2:
        rng = np.random.default_rng(seed)
        d = np.asarray(pairs)
        boot = d[rng.integers(0, len(d), size=(RESAMPLES, len(d)))].mean(axis=1)
        ci = [float(np.quantile(boot, (1 - confidence) / 2)), float(np.quantile(boot, (1 + confidence) / 2))]
    slope = fit["models"]["loglinear"]["params"]["b"]
    lo, hi = (fit["models"]["loglinear"].get("ci") or {}).get("b") or (None, None)
    flat = lo is not None and hi is not None and lo <= 0 <= hi  # no slope to count doublings of
    per_doubling = slope * math.log(2)
    ends = first["n_train"]
    seg = fit["models"].get("segmented") or {}
    if fit.get("selected") == "segmented" and abs(seg["params"]["b1"]) > abs(seg["params"]["b2"]):
        ends = seg["params"]["breakpoint_n"]
    return {"task": fit["task"], "series": fit["series"], "base": str(base.path), "base_value": base.score(fit["task"]).value,
            "n_min": first["n_train"], "value_at_n_min": first["value"], "step": step, "step_ci": ci,
            "paired_items": len(pairs), "per_doubling": per_doubling,
            "doublings": step / per_doubling if per_doubling and not flat else None, "slope_within_noise": flat,
            "ends_at_n": ends}


def format_jumps(fit: dict | None, folders: list[ResultsFolder]) -> list[dict]:
    return [j for f in (fit or {}).get("fits", []) if (j := format_jump(f, folders)) is not None]


def format_text(j: dict, metric: str) -> str:
    unit = " bits/byte" if metric == "bpb" else ""
    lo, hi = j["step_ci"]
    ci = f" [{lo:+.3f}, {hi:+.3f}]" if lo is not None else ""
    if j["doublings"] is not None:
        worth = (f", as much as {j['doublings']:.1f} doublings of the data at the fitted slope "
                 f"({j['per_doubling']:+.3f}{unit} per doubling)")
    else:
        worth = ", while the fitted slope beyond it is within the noise"
    return (f"**Format learning** ({j['task']}, {j['series']}): untrained base {j['base_value']:.3f} → "
            f"{j['value_at_n_min']:.3f} at N = {j['n_min']:,.0f}, a step of {j['step']:+.3f}{unit}{ci} over "
            f"{j['paired_items']} paired items{worth}. That step is the model learning the training layout as much as "
            f"the data's content; the curve is read as the data's effect from N = {j['ends_at_n']:,.0f} on.")
