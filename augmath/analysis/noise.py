"""The report's noise table: how large each noise source was, and the smallest difference the job could see.

From the equal-N comparisons (augmath.analysis.findings.equal_n_comparisons), per task: the number of items and
training seeds, the spread of a difference when only the training seeds or only the evaluation items are
resampled, and the minimal detectable difference (MDD) at the job's sizes: 2.8 x the combined standard error, the
true difference a two-sided 5% test would find 80% of the time (the usual power calculation, with the standard
error measured by the seeds x items bootstrap rather than assumed). A difference below it is one this job could
not reliably have seen, whatever the verdict column says about the differences it did see.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from augmath.analysis.sections import score_text


def noise_rows(comparisons: list[dict]) -> list[dict]:
    """Per task: medians over the comparisons of that task (each a strategy against the original at one N)."""
    by_task: dict[str, list[dict]] = defaultdict(list)
    for r in comparisons:
        if "delta" in r:
            by_task[r["task"]].append(r)
    rows = []
    for task, group in sorted(by_task.items()):
        deltas = [r["delta"] for r in group]
        med = lambda key: float(np.median([d[key] for d in deltas]))  # noqa: E731
        rows.append({"task": task, "metric": group[0]["metric"], "in_domain": group[0]["in_domain"],
                     "items": int(np.median([d["n"] for d in deltas])),
                     "seeds": int(min(min(d["seeds"]) for d in deltas)), "comparisons": len(deltas),
                     "seed_sd": med("seed_sd"), "item_sd": med("item_sd"), "mdd": med("mdd"),
                     "largest_difference": float(max(abs(d["difference"]) for d in deltas)),
                     "decided": sum(r["verdict"] != "cannot tell" for r in group)})
    return rows


def noise_table(comparisons: list[dict]) -> str:
    rows = noise_rows(comparisons)
    if not rows:
        return "No comparison at equal N, so no noise to measure.\n"
    lines = ["| task | domain | items | seeds | seed spread of Δ | item spread of Δ | detectable Δ (MDD) | "
             "largest |Δ| seen | decided |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        m = r["metric"]
        seed = "1 seed: not measured" if r["seeds"] == 1 else f"±{score_text(r['seed_sd'], m)}"
        lines.append(f"| {r['task']} | {'in-domain' if r['in_domain'] else 'cross-domain'} | {r['items']} | "
                     f"{r['seeds']} | {seed} | ±{score_text(r['item_sd'], m)} | {score_text(r['mdd'], m)} | "
                     f"{score_text(r['largest_difference'], m)} | {r['decided']} of {r['comparisons']} |")
    one_seed = any(r["seeds"] == 1 for r in rows)
    return ("\n".join(lines) + "\n\nMedians over the comparisons at equal N of each task. Spreads are standard "
            "deviations of a difference from the bootstrap with only the training seeds, or only the evaluation "
            "items, resampled; the detectable difference (2.8 x the combined standard error: 5% two-sided, 80% "
            "power) is the smallest true difference this job would find most of the time. More items shrink the "
            "item spread, more seeds the seed spread; whichever is larger is the one to buy."
            + (" With one training seed the seed noise is unmeasured and the detectable difference is a lower "
               "bound." if one_seed else "") + "\n")
