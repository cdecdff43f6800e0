"""`augmath fit`: how a task's score scales with the amount of augmented data N (MuggleMath's second question).

The score y is a task's accuracy (higher is better) or, for a likelihood task (gsm8k_bpb), the bits per byte of
the reference solution (lower is better); both are means over evaluation items and are fitted the same way.
Two models in x = ln N, both fitted by least squares:
    log-linear   y = a + b·x
    segmented    y = a + b1·x + (b2 - b1)·max(0, x - c)   (two lines joined at the breakpoint c = ln N_c)
The breakpoint is searched on a grid (refined for the point estimate) restricted so that each piece has at
least two observed N strictly on each side. The segmented model is chosen only if BIC prefers it by more than 2,
BIC computed with the noise variance *known* from the per-sample data rather than estimated from 4-7 residuals
(docs/analysis.md says why BIC, and why not AIC or leave-one-out, which are reported alongside).

Uncertainty comes from a bootstrap over per-sample scores: every replicate resamples each point's
eval items and refits both models. When all points were scored on the same items (the usual case: one
test set, several N) the items are resampled *jointly* (paired), keeping the correlation that the shared
test set induces; otherwise each point is resampled on its own. This captures evaluation noise only, not
the run-to-run noise of training, unless several seeds were trained per N (`train.seeds`): then the folders at
one N are averaged per item and every replicate also resamples each N's seeds (the seeds x items bootstrap of
augmath.stats), so the intervals cover both noise sources.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from augmath.analysis.results import HIGHER_IS_BETTER, METRIC_LABELS, ResultsFolder, is_demo_model, load_many
from augmath.stats import bootstrap_means, finite as _finite, percentile_interval, seeded_means
from augmath.io import DataError, write_json_atomic
from augmath.analysis.scaling import (
    fit_loglinear, fit_segmented, information_criteria, loo_rmse, predict, solve_target,
)
from augmath.errors import UserError
from augmath.options import POSITIVE, PROBABILITY, number

SCHEMA = "augmath.analysis.fit/2"  # /2: fits carry `metric`; points and targets a `value` (was `accuracy`)
BIC_MARGIN = 2.0  # Kass & Raftery: a BIC difference below 2 is "not worth more than a bare mention"


class FitError(UserError, ValueError):
    """The points cannot support the requested fit; the message says why."""


@dataclass
class Point:
    n_train: float
    value: float          # the task's score: accuracy, or bits per byte
    n: int
    values: np.ndarray    # per item: 1.0/0.0 correctness, or bits per byte
    keys: list[str]
    source: str
    metric: str = "accuracy"
    runs: np.ndarray | None = None  # (seeds, items) when several training seeds were scored at this N
    seeds: list | None = None


def points_from_results(folders: list[ResultsFolder], task: str) -> list[Point]:
    """One point per N. Folders at the same N are the seed runs of that N (train.seeds): the point is their mean
    per item over the items all of them scored, and the bootstrap resamples seeds as well as items."""
    from augmath.analysis.seeds import common_keys, group_runs, seed_table, seeds_of

    metrics = {r.score(task).metric for r in folders}
    if len(metrics) > 1:
        raise DataError(f"task '{task}' is scored in {' and '.join(sorted(metrics))} in different folders")
    points = []
    for n, runs in group_runs(folders, lambda r: r.n_train()).items():
        score = runs[0].score(task)
        if len(runs) == 1:
            values, keys = runs[0].values(task)
            points.append(Point(n, score.value, score.n, values, keys, str(runs[0].path), score.metric,
                                seeds=seeds_of(runs)))
            continue
        keys = common_keys(runs, task)
        table = seed_table(runs, task, keys)
        points.append(Point(n, float(table.mean()), len(keys), table.mean(axis=0), keys,
                            ", ".join(str(r.path) for r in runs), score.metric, runs=table, seeds=seeds_of(runs)))
    return points


def bootstrap_points(points: list[Point], resamples: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """(len(points), resamples) bootstrap scores and the scheme used ("paired" or "independent")."""
    key_sets = [tuple(sorted(p.keys)) for p in points]
    paired = len(set(key_sets)) == 1 and len(set(key_sets[0])) == len(key_sets[0])
    seeded = any(p.runs is not None for p in points)
    tables = [p.runs if p.runs is not None else p.values[None, :] for p in points]
    if paired:
        order = points[0].keys
        columns = []
        for p, table in zip(points, tables):
            where = {k: i for i, k in enumerate(p.keys)}
            columns.append(table[:, [where[k] for k in order]])
        if seeded:  # items resampled jointly, each N's seeds resampled on their own (augmath.stats)
            return seeded_means(columns, resamples, rng), "paired, seeds x items"
        return bootstrap_means(np.column_stack([c[0] for c in columns]), resamples, rng), "paired"
    out = np.empty((len(points), resamples))
    for i, p in enumerate(points):
        if p.runs is not None:
            out[i] = seeded_means([p.runs], resamples, rng)[0]
        elif p.metric == "accuracy":
            # A 0/1 vector of length n with k ones resamples to Binomial(n, k/n) ones: the same distribution, drawn directly.
            out[i] = rng.binomial(p.n, p.values.mean(), size=resamples) / p.n
        else:
            out[i] = bootstrap_means(p.values, resamples, rng)[0]
    return out, "independent" + (", seeds x items" if seeded else "")


def check_target(target: float, metric: str) -> None:
    if metric == "accuracy" and not 0 < target <= 1:
        raise FitError(f"target accuracy {target} is outside (0, 1]")
    if metric == "bpb" and not target > 0:
        raise FitError(f"target bits per byte {target} must be > 0")


def fit_points(points: list[Point], *, target: float | None = None, resamples: int = 1000, seed: int = 0,
               confidence: float = 0.95) -> dict:
    """Fit both models to the points; returns the JSON-ready record (raises FitError on degenerate input).

    `target`: a score to reach (accuracy to rise to, or bits per byte to fall to, by the points' metric)."""
    if len(points) < 2:
        where = f" (N={points[0].n_train:g} from {points[0].source})" if points else ""
        raise FitError(f"only {len(points)} point{where}: a fit needs results at two or more distinct N")
    if any(p.n_train <= 0 for p in points):
        raise FitError("every N must be > 0 (the fit uses ln N)")
    if resamples < 10 or not 0.5 <= confidence < 1:
        raise FitError(f"need >= 10 bootstrap resamples and a confidence in [0.5, 1) (got {resamples}, {confidence})")
    metric = points[0].metric
    if target is not None:
        check_target(target, metric)
    points = sorted(points, key=lambda p: p.n_train)
    x = np.log([p.n_train for p in points])
    y = np.array([p.value for p in points])
    if len(np.unique(x)) < 2:
        raise FitError(f"all {len(points)} results have the same N={points[0].n_train:g}: the slope in ln N is undefined")
    flags = _data_flags(points, y)

    boot, scheme = bootstrap_points(points, resamples, np.random.default_rng(seed))
    models = {"loglinear": _model_record("loglinear", x, y, boot, confidence),
              "segmented": _model_record("segmented", x, y, boot, confidence)}
    noise = _score_models(models, boot, len(points))
    selected, selection = _select(models, len(points))

    lo_n, hi_n = points[0].n_train, points[-1].n_train
    record = {
        "metric": metric, "higher_is_better": HIGHER_IS_BETTER[metric],
        "points": [{"n_train": p.n_train, "value": p.value, "n": p.n, "ci": percentile_interval(boot[i], confidence),
                    # the change from the smallest N, from the same replicates (paired when the items are shared)
                    "change": float(y[i] - y[0]), "change_ci": percentile_interval(boot[i] - boot[0], confidence),
                    "results": p.source, "seeds": p.seeds} for i, p in enumerate(points)],
        "bootstrap": {"scheme": scheme, "resamples": resamples, "seed": seed, "confidence": confidence},
        "noise": noise,
        "models": {k: {kk: vv for kk, vv in v.items() if not kk.startswith("_")} for k, v in models.items()},
        "selected": selected,
        "selection": selection,
        "flags": flags,
    }
    record["change"] = {"from_n": points[0].n_train, "to_n": points[-1].n_train, "difference": float(y[-1] - y[0]),
                        "ci": record["points"][-1]["change_ci"]}
    target_x = None
    if target is not None:
        record["target"] = _target(models[selected], target, confidence, lo_n, hi_n, HIGHER_IS_BETTER[metric])
        target_x = math.log(record["target"]["n"]) if record["target"]["n"] else None
    record["curve"] = _curve(models, selected, x, target_x, confidence)
    return record


def _data_flags(points: list[Point], y: np.ndarray) -> list[str]:
    flags = []
    if np.ptp(y) == 0:
        flags.append(f"flat: every score is {y[0]:.3f}, so the fitted slope is 0 and no trend can be read")
    if points[0].metric != "accuracy":  # bits per byte has no bound a line must respect at these scales
        bounds = ()
    else:
        bounds = ((0.0, "floor (0)"), (1.0, "ceiling (1)"))
    for bound, word in bounds:
        k = int(np.sum(y == bound))
        if k and np.ptp(y) > 0:
            flags.append(f"{k} point(s) at the {word}: a line in ln N cannot follow a bound; read slopes with care")
    if len(np.unique([p.n_train for p in points])) == 2:
        flags.append("two distinct N: the log-linear fit passes through them exactly (no residual check)")
    return flags


def _model_record(kind: str, x: np.ndarray, y: np.ndarray, boot: np.ndarray, confidence: float) -> dict:
    fit = fit_loglinear if kind == "loglinear" else fit_segmented
    point = fit(x, y[:, None], refine=True)
    if point is None:
        return {"fitted": False, "reason": "needs at least 4 distinct N (two per piece)"}
    params = {k: _finite(v[0]) for k, v in point.items() if k != "sse"}
    k = 2 if kind == "loglinear" else 4  # the breakpoint counts as a parameter
    rec = {"fitted": True, "params": params, "sse": float(point["sse"][0]), "n_params": k, "dof": len(x) - k,
           "loo_rmse": loo_rmse(kind, x, y)}
    replicates = fit(x, boot, refine=False)
    rec["ci"] = {name: percentile_interval(replicates[name], confidence) for name in params}
    if kind == "segmented":
        rec["params"]["breakpoint_n"] = math.exp(params["c"])
        rec["ci"]["breakpoint_n"] = [math.exp(v) for v in rec["ci"]["c"]]
    rec["_point"], rec["_boot"] = point, replicates
    return rec


def _score_models(models: dict, boot: np.ndarray, n_points: int) -> dict:
    """Information criteria with the noise variance known from the bootstrap, inflated by the dispersion that the
    richer (segmented) model leaves unexplained: variance beyond evaluation noise, e.g. training-seed noise."""
    eval_var = max(float(np.mean(boot.var(axis=1))), 1e-12)
    seg = models["segmented"]
    dispersion = max(1.0, seg["sse"] / (seg["dof"] * eval_var)) if seg["fitted"] and seg["dof"] > 0 else 1.0
    for m in models.values():
        if m["fitted"]:
            m.update(information_criteria(m["sse"], n_points, m["n_params"], eval_var * dispersion))
    return {"eval_variance": eval_var, "dispersion": dispersion}


def _select(models: dict, n_points: int) -> tuple[str, dict]:
    lin, seg = models["loglinear"], models["segmented"]
    rule = (f"segmented only if fitted, >= 5 points, and BIC(segmented) < BIC(log-linear) - {BIC_MARGIN:g}; "
            "BIC = SSE / (evaluation variance x dispersion) + k ln n")
    info = {"criterion": "BIC", "rule": rule}
    if not seg["fitted"] or n_points < 5:
        info["reason"] = "segmented model not comparable (needs >= 4 distinct N and >= 5 points)"
        return "loglinear", info
    info["delta_bic"] = seg["bic"] - lin["bic"]
    info["delta_aic"] = seg["aic"] - lin["aic"]
    chosen = "segmented" if info["delta_bic"] < -BIC_MARGIN else "loglinear"
    if lin["loo_rmse"] is not None and seg["loo_rmse"] is not None:
        gap = lin["loo_rmse"] - seg["loo_rmse"]
        info["loo_prefers"] = "tie" if abs(gap) < 1e-9 else ("segmented" if gap > 0 else "loglinear")
    return chosen, info


def _negated(params: dict) -> dict:
    """The same curve upside down (y -> -y): a fall to a target is a rise to its negative."""
    return {k: (v if k in ("c", "sse") else -v) for k, v in params.items()}


def _target(model: dict, target: float, confidence: float, lo_n: float, hi_n: float, rising: bool = True) -> dict:
    """The smallest N at which the curve reaches `target`: rises to it (accuracy) or falls to it (bits per byte)."""
    if rising:
        x_point, x_boot = solve_target(model["_point"], target)[0], solve_target(model["_boot"], target)
    else:
        x_point = solve_target(_negated(model["_point"]), -target)[0]
        x_boot = solve_target(_negated(model["_boot"]), -target)
    with np.errstate(over="ignore"):
        n_point, n_boot = float(np.exp(x_point)), np.exp(x_boot)  # unreachable -> inf
    reachable = float(np.mean(np.isfinite(n_boot)))
    out = {"value": target, "n": _finite(n_point), "ci": percentile_interval(n_boot, confidence),
           "reachable_fraction": reachable,
           "extrapolated": math.isfinite(n_point) and not (lo_n <= n_point <= hi_n)}
    if not math.isfinite(n_point):
        out["note"] = ("the fitted curve never reaches the target (slope <= 0 where it would need to rise)" if rising else
                       "the fitted curve never reaches the target (slope >= 0 where it would need to fall)")
    elif out["extrapolated"]:
        out["note"] = f"extrapolated beyond the observed N range [{lo_n:g}, {hi_n:g}]"
    if out["ci"][1] is None:
        out["note"] = (out.get("note", "") + "; " if "note" in out else "") + \
            f"upper bound unbounded: {1 - reachable:.1%} of bootstrap fits never reach the target"
    return out


def _curve(models: dict, selected: str, x: np.ndarray, target_x: float | None, confidence: float) -> dict:
    """The selected model (with its bootstrap band) and the other fitted model, on a grid in N for plotting."""
    lo, hi = x.min() - 0.25, x.max() + 0.25
    if target_x is not None and hi < target_x <= x.max() + math.log(20):
        hi = target_x + 0.1  # show the extrapolation when it is not absurdly far
    grid = np.linspace(lo, hi, 80)
    chosen = models[selected]
    band = predict(chosen["_boot"], grid)  # (grid, replicates)
    alpha = (1 - confidence) / 2
    curve = {"n": np.exp(grid).tolist(), "model": selected,
             "fit": predict(chosen["_point"], grid)[:, 0].tolist(),
             "lo": np.quantile(band, alpha, axis=1).tolist(), "hi": np.quantile(band, 1 - alpha, axis=1).tolist()}
    other = "segmented" if selected == "loglinear" else "loglinear"
    if models[other]["fitted"]:
        curve["other_model"], curve["other_fit"] = other, predict(models[other]["_point"], grid)[:, 0].tolist()
    return curve


# ---------------------------------------------------------------- CLI

def series_key(r: ResultsFolder) -> tuple[str, str]:
    """Points of one curve differ only in N: same base model and same training data config."""
    subset = r.provenance.get("subset")  # paths per query / rounds: another series of the same config
    config = r.config or r.strategy or str(r.provenance.get("dataset") or "unknown")
    return (r.base_model, f"{config} [{subset}]" if subset else config)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("results", nargs="+", help="results folders written by `augmath eval`")
    p.add_argument("--out", required=True, help="output folder (fit.json, fit_<task>.png)")
    p.add_argument("--task", help="fit only this task (default: every task present in all folders of a series)")
    p.add_argument("--target-acc", type=PROBABILITY, help="also predict the N at which accuracy rises to this (0-1)")
    p.add_argument("--target-bpb", type=number(0, low_open=True),
                   help="also predict the N at which bits per byte (the _bpb tasks) falls to this")
    p.add_argument("--resamples", type=POSITIVE, default=1000, help="bootstrap replicates (default 1000)")
    p.add_argument("--confidence", type=number(0, 1, low_open=True), default=0.95)
    p.add_argument("--seed", type=int, default=0)


def fit_results(paths: list, out_dir, *, task=None, target=None, target_bpb=None, resamples=1000, confidence=0.95,
                seed=0) -> dict:
    """Fit every (series, task) in the given results folders; writes out_dir/fit.json and PNGs; returns the JSON.

    target: the accuracy to predict N for (accuracy tasks); target_bpb: the bits per byte (likelihood tasks)."""
    from augmath.analysis.plots import plot_scaling

    targets = {"accuracy": target, "bpb": target_bpb}
    for metric, value in targets.items():
        if value is not None:
            check_target(value, metric)  # bad input fails before any folder is read
    folders = load_many(paths)
    groups: dict[tuple, list[ResultsFolder]] = defaultdict(list)
    for r in folders:
        r.n_train()  # fail early, naming the file, on a missing or non-positive N
        groups[series_key(r)].append(r)
    many_models = len({k[0] for k in groups}) > 1
    fits, skipped = [], []
    for (base, config), members in groups.items():
        tasks = [task] if task else sorted(set.intersection(*(set(r.tasks) for r in members)))
        if not tasks:
            raise DataError(f"series '{config}': no task is present in all of {', '.join(str(r.path) for r in members)}")
        label = f"{Path(base).name}: {config}" if many_models else config
        amounts = sorted({r.n_train() for r in members})
        if len(amounts) < 2:  # e.g. the `original` data or a single-N strategy: a point, not a curve
            skipped.append({"series": label, "n_train": amounts, "results": [str(r.path) for r in members]})
            continue
        for t in tasks:
            entry = {"task": t, "series": label, "base_model": base, "config": config}
            try:
                points = points_from_results(members, t)
                entry.update(fit_points(points, target=targets[points[0].metric], resamples=resamples,
                                        seed=seed, confidence=confidence))
            except FitError as e:
                entry["error"] = str(e)
            fits.append(entry)
    if not fits:
        what = "; ".join(f"'{k['series']}' N={', '.join(f'{n:g}' for n in k['n_train'])}" for k in skipped)
        raise FitError(f"nothing to fit: each training-data series has a single data amount ({what}); "
                       "a fit needs results at two or more distinct N of the same training data")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = {}
    for t in sorted({f["task"] for f in fits}):
        ok = [f for f in fits if f["task"] == t and "error" not in f]
        if ok:
            plots[t] = f"fit_{t}.png"
            metric = ok[0]["metric"]
            plot_scaling(ok, out_dir / plots[t], title=f"{t}: {METRIC_LABELS[metric]} vs augmented data N",
                         target=targets[metric], demo=any(is_demo_model(f["base_model"]) for f in ok))
    doc = {"schema": SCHEMA, "targets": targets, "plots": plots, "fits": fits, "skipped": skipped}
    write_json_atomic(out_dir / "fit.json", doc)
    return doc


def run(args: argparse.Namespace) -> int:
    doc = fit_results(args.results, args.out, task=args.task, target=args.target_acc, target_bpb=args.target_bpb,
                      resamples=args.resamples, confidence=args.confidence, seed=args.seed)
    for f in doc["fits"]:
        if "error" in f:
            print(f"{f['task']:>8}  {f['series']}: NOT FITTED: {f['error']}", file=sys.stderr)
            continue
        m = f["models"][f["selected"]]
        desc = ", ".join(f"{k}={v:.4g}" for k, v in m["params"].items() if k != "c")
        line = f"{f['task']:>8}  {f['series']}: {f['selected']} ({desc})"
        if "target" in f:
            tn = f["target"]["n"]
            what = "acc" if f["metric"] == "accuracy" else "bits/byte"
            line += f"; N for {what} {f['target']['value']:.3g}: " + (f"{tn:,.0f}" if tn else "unreachable")
            line += " (extrapolated)" if f["target"]["extrapolated"] else ""
        print(line + "".join(f"\n          flag: {x}" for x in f["flags"]))
    for k in doc["skipped"]:
        print(f"  skipped  {k['series']}: one data amount (N={k['n_train'][0]:g}), nothing to fit")
    print(f"wrote {Path(args.out) / 'fit.json'}")
    failed = sum("error" in f for f in doc["fits"])
    return 0 if not failed else (1 if failed < len(doc["fits"]) else 2)
