"""`augmath decide SMALL... --against LARGE...`: the small-scale proxy's decision accuracy, DataDecide-style.

Does the small-scale proxy pick the same training data as the large scale?

    augmath decide small/eval-*/results --against large/eval-*/results --out decide/

A *training configuration* is the training data (its config, subset and amount N), whatever the base model: the
same data trained into a small model (scored in bits per byte of the reference solutions, `--small-task`, lower is
better) and into a large one (scored in accuracy, `--large-task`). For every pair of configurations scored at both
scales, the small-scale order (which of the two has the lower bits per byte) either agrees with the large-scale
accuracy order or not; the pairwise decision accuracy is the fraction that agree (Magnusson et al. 2025,
"DataDecide: How to predict best pretraining data with small experiments", which calls it decision accuracy and
reads it against the compute ratio between the scales). Pairs tied at the large scale have no order to predict and
are left out (counted); a tie at the small scale counts one half (a coin flip).

The interval: a bootstrap that resamples, at both scales, each configuration's training seeds and the evaluation
items (items shared by every configuration of a scale, so each scale's comparisons stay paired: the seeds x items
bootstrap of augmath.stats) and recomputes every order, so it covers how the measured orders themselves
could have come out, at both scales. `clear_pairs` restricts the accuracy to the pairs whose large-scale order is
clear (its own interval excludes 0): the decisions that matter.

The compute ratio: training compute 6 x parameters x tokens seen (Kaplan et al. 2020), summed over the runs of each
scale, large over small; tokens seen from each model's training record (provenance.progress.tokens_seen), the
parameter counts from `--small-params` / `--large-params` (or provenance `params`), else not given.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

from augmath.analysis.results import ResultsFolder, load_many
from augmath.analysis.seeds import common_keys, group_runs, seed_table
from augmath.stats import percentile_interval, seeded_means
from augmath.io import DataError, write_json_atomic

SCHEMA = "augmath.analysis.decide/1"


def configuration(r: ResultsFolder) -> str:
    """The training data of a run, whatever its base model: config [subset] @ N."""
    subset = r.provenance.get("subset")
    name = r.config or r.strategy or str(r.provenance.get("dataset"))
    return f"{name}{f' [{subset}]' if subset else ''} @ N={r.n_train():g}"


def _scale(folders: list[ResultsFolder], task: str, which: str, metric: str) -> dict[str, list[ResultsFolder]]:
    groups = group_runs(folders, configuration)
    for runs in groups.values():
        for r in runs:
            score = r.score(task)  # a DataError naming the file when the task is missing
            if score.metric != metric:
                raise DataError(f"{r.results_file}: --{which}-task {task} is scored in {score.metric}; the {which} "
                                f"scale needs a {metric} task")
    return groups


def _default_task(folders: list[ResultsFolder], metric: str, which: str) -> str:
    shared = set.intersection(*(set(t for t, s in r.tasks.items() if s.metric == metric) for r in folders))
    if not shared:
        raise DataError(f"no {metric} task is present in every {which} results folder; name one with --{which}-task")
    return sorted(shared)[0]


def _boot(groups: dict, names: list[str], task: str, resamples: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Point means (configs,) and bootstrap means (configs, resamples) over the items every run scored."""
    runs = [r for n in names for r in groups[n]]
    keys = common_keys(runs, task)
    if not keys:
        raise DataError(f"task {task}: no item is scored by every results folder, so no paired comparison")
    tables = [seed_table(groups[n], task, keys) for n in names]
    return np.array([t.mean() for t in tables]), seeded_means(tables, resamples, rng)


def _decisions(small: np.ndarray, large: np.ndarray, pairs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Per pair (and replicate, along the last axis): agreement (1, 0.5 for a small-scale tie, 0) and whether the
    large scale has an order at all. Small: lower bits per byte is better; large: higher accuracy is better."""
    i, j = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    small_says = np.sign(small[j] - small[i])  # +1: i has the lower bpb, i is better
    large_says = np.sign(large[i] - large[j])  # +1: i has the higher accuracy
    agree = np.where(small_says == 0, 0.5, (small_says == large_says).astype(float))
    return agree, large_says != 0


def _accuracy(agree: np.ndarray, ordered: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.where(ordered.sum(axis=0) > 0, (agree * ordered).sum(axis=0) / ordered.sum(axis=0), np.nan)


def _compute(groups: dict, names: list[str], params: float | None) -> float | None:
    total = 0.0
    for r in (r for n in names for r in groups[n]):
        p = params or r.provenance.get("params")
        tokens = (r.provenance.get("progress") or {}).get("tokens_seen")
        if not isinstance(p, (int, float)) or not isinstance(tokens, (int, float)):
            return None
        total += 6.0 * p * tokens
    return total


def decide(small_paths: list, large_paths: list, *, small_task: str | None = None, large_task: str | None = None,
           small_params: float | None = None, large_params: float | None = None, resamples: int = 2000,
           confidence: float = 0.95, seed: int = 0) -> dict:
    small_all, large_all = load_many(small_paths), load_many(large_paths)
    # a base model has no training data to rank (a results glob often includes it): left out, counted
    small_f, large_f = [r for r in small_all if r.trained], [r for r in large_all if r.trained]
    for which, kept, given in (("small", small_f, small_all), ("large", large_f, large_all)):
        if not kept:
            raise DataError(f"every {which} results folder is a base model (no training data in its provenance); "
                            "decide ranks trained models")
    small_task = small_task or _default_task(small_f, "bpb", "small")
    large_task = large_task or _default_task(large_f, "accuracy", "large")
    small, large = _scale(small_f, small_task, "small", "bpb"), _scale(large_f, large_task, "large", "accuracy")
    names = sorted(set(small) & set(large))
    if len(names) < 2:
        raise DataError(f"{len(names)} training configuration(s) scored at both scales ({', '.join(names) or 'none'}"
                        f"; small: {', '.join(sorted(small))}; large: {', '.join(sorted(large))}): "
                        "a decision needs at least two")
    pairs = list(itertools.combinations(range(len(names)), 2))
    rng = np.random.default_rng(seed)
    s_point, s_boot = _boot(small, names, small_task, resamples, rng)
    l_point, l_boot = _boot(large, names, large_task, resamples, rng)
    agree, ordered = _decisions(s_point[:, None], l_point[:, None], pairs)
    b_agree, b_ordered = _decisions(s_boot, l_boot, pairs)
    boot_acc = _accuracy(b_agree, b_ordered)
    # a pair's large-scale order is clear when its own bootstrap difference keeps one sign in the central interval
    l_diff = np.array([l_boot[i] - l_boot[j] for i, j in pairs])
    lo, hi = np.quantile(l_diff, [(1 - confidence) / 2, (1 + confidence) / 2], axis=1)
    clear = (lo > 0) | (hi < 0)
    point = _accuracy(agree, ordered)[0]
    clear_point = _accuracy(agree[clear], ordered[clear])[0] if clear.any() else float("nan")
    clear_boot = _accuracy(b_agree[clear], b_ordered[clear]) if clear.any() else np.array([np.nan])
    c_small, c_large = _compute(small, names, small_params), _compute(large, names, large_params)
    finite = lambda v: None if not np.isfinite(v) else float(v)  # noqa: E731
    interval = lambda b: percentile_interval(b[np.isfinite(b)], confidence) if np.isfinite(b).any() else [None, None]  # noqa: E731
    return {
        "schema": SCHEMA, "small_task": small_task, "large_task": large_task, "configurations": names,
        "small": {n: float(v) for n, v in zip(names, s_point)}, "large": {n: float(v) for n, v in zip(names, l_point)},
        "pairs": [{"a": names[i], "b": names[j], "small_prefers": names[i] if s_point[i] < s_point[j] else
                   (names[j] if s_point[j] < s_point[i] else None),
                   "large_prefers": names[i] if l_point[i] > l_point[j] else (names[j] if l_point[j] > l_point[i]
                                                                              else None),
                   "agree": float(agree[k, 0]) if ordered[k, 0] else None, "large_order_clear": bool(clear[k])}
                  for k, (i, j) in enumerate(pairs)],
        "decision_accuracy": finite(point), "ci": interval(boot_acc), "ordered_pairs": int(ordered.sum()),
        "tied_at_large_scale": int((~ordered).sum()),
        "clear_pairs": {"count": int(clear.sum()), "decision_accuracy": finite(clear_point),
                        "ci": interval(clear_boot)},
        "compute": {"small_flops": c_small, "large_flops": c_large,
                    "ratio": c_large / c_small if c_small and c_large else None},
        "bootstrap": {"resamples": resamples, "confidence": confidence, "seed": seed,
                      "scheme": "seeds x items at both scales (augmath.stats.seeded_means)"},
        "method": "pairwise decision accuracy (Magnusson et al. 2025, DataDecide)",
        "base_models_left_out": len(small_all) - len(small_f) + len(large_all) - len(large_f),
    }


def text(doc: dict) -> str:
    conf = doc["bootstrap"]["confidence"]
    fmt = lambda v: "—" if v is None else f"{v:.2f}"  # noqa: E731
    lines = [f"{doc['small_task']} (small, bits per byte) vs {doc['large_task']} (large, accuracy): "
             f"{len(doc['configurations'])} configurations, {len(doc['pairs'])} pairs, {doc['ordered_pairs']} with a "
             f"large-scale order ({doc['tied_at_large_scale']} tied)",
             f"decision accuracy {fmt(doc['decision_accuracy'])} [{fmt(doc['ci'][0])}, {fmt(doc['ci'][1])}] "
             f"({conf:.0%} bootstrap over seeds and items at both scales; 0.5 = chance)",
             f"on the {doc['clear_pairs']['count']} pair(s) whose large-scale order is clear: "
             f"{fmt(doc['clear_pairs']['decision_accuracy'])} [{fmt(doc['clear_pairs']['ci'][0])}, "
             f"{fmt(doc['clear_pairs']['ci'][1])}]"]
    ratio = doc["compute"]["ratio"]
    lines.append(f"compute ratio (large / small training FLOPs): {ratio:,.1f}" if ratio else
                 "compute ratio: unknown (give --small-params and --large-params; tokens come from the training records)")
    for p in doc["pairs"]:
        mark = {1.0: "agree", 0.0: "DISAGREE", 0.5: "small-scale tie", None: "large-scale tie"}[p["agree"]]
        lines.append(f"  {p['a']}  vs  {p['b']}: small prefers {p['small_prefers'] or '—'}, large prefers "
                     f"{p['large_prefers'] or '—'}: {mark}" + ("" if p["large_order_clear"] else " (large order unclear)"))
    return "\n".join(lines) + "\n"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("small", nargs="+", help="results folders of the small-scale models (bits per byte)")
    p.add_argument("--against", nargs="+", required=True, help="results folders of the large-scale models (accuracy)")
    p.add_argument("--out", help="folder for decide.json (default: print only)")
    p.add_argument("--small-task", help="the small scale's likelihood task (default: the bpb task every folder has)")
    p.add_argument("--large-task", help="the large scale's accuracy task (default: the accuracy task every folder has)")
    p.add_argument("--small-params", type=float, help="parameters of the small model (for the compute ratio)")
    p.add_argument("--large-params", type=float, help="parameters of the large model (for the compute ratio)")
    p.add_argument("--resamples", type=int, default=2000)
    p.add_argument("--confidence", type=float, default=0.95)
    p.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    if args.resamples < 10 or not 0.5 <= args.confidence < 1:
        raise DataError(f"need --resamples >= 10 and --confidence in [0.5, 1) (got {args.resamples}, {args.confidence})")
    doc = decide(args.small, args.against, small_task=args.small_task, large_task=args.large_task,
                 small_params=args.small_params, large_params=args.large_params, resamples=args.resamples,
                 confidence=args.confidence, seed=args.seed)
    print(text(doc), end="")
    if args.out:
        write_json_atomic(Path(args.out) / "decide.json", doc)
        print(f"wrote {Path(args.out) / 'decide.json'}")
    return 0
