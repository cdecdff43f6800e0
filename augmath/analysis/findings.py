"""The experiment report's conclusions: each training data against the original seeds, and findings in words.

What the experiment report concludes (augmath.analysis.report): training data compared at equal N with the
original seeds, paired over the same evaluation items, and the findings in words, each with its interval.

`equal_n_comparisons` returns JSON-ready records; `comparisons_table` and `findings` return markdown. Nothing here
writes files.
"""

from __future__ import annotations

from collections import defaultdict

from augmath.analysis.results import HIGHER_IS_BETTER, ResultsFolder
from augmath.analysis.sections import score_text
from augmath.evalsets import benchmark_of

# ------------------------------------------------------------------------------- strategies at equal N

def verdict(delta: dict, metric: str) -> str:
    """'helps' / 'hurts' only when the combined interval (training seeds and evaluation items) excludes 0;
    otherwise 'cannot tell'."""
    if not delta["excludes_zero"]:
        return CANNOT_TELL
    better = delta["difference"] > 0 if HIGHER_IS_BETTER[metric] else delta["difference"] < 0
    return "helps" if better else "hurts"


CANNOT_TELL = "cannot tell"


def equal_n_comparisons(folders: list[ResultsFolder], *, confidence: float = 0.95, resamples: int = 2000,
                        seed: int = 0) -> list[dict]:
    """Training data compared at the same N and base model against the `original` data of the same source: for
    every task both scored, the difference over the items both scored and a verdict. A training data trained with
    several seeds is one row (its folders grouped by augmath.analysis.seeds): its score is the mean over seeds and
    every interval resamples seeds and items (augmath.stats.seeded_difference), with the seed-only and
    item-only spreads and the minimal detectable difference beside it. Groups without an original row, or with
    nothing to compare it to, are left out."""
    from augmath.analysis.seeds import common_keys, group_runs, seed_table, seeds_of
    from augmath.stats import seeded_difference, seeded_interval
    from augmath.analysis.transfer import IN_DOMAIN, classify

    groups: dict[tuple, list[ResultsFolder]] = defaultdict(list)
    for r in folders:
        if r.trained and r.provenance.get("n_train") is not None:
            groups[(r.base_model, r.n_train())].append(r)
    out = []
    for (base, n), members in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        configs = group_runs(members, lambda r: (classify(r)["label"], r.provenance.get("subset")))
        infos = [(runs, classify(runs[0])) for runs in configs.values()]
        originals = {tuple(info["sources"]): (runs, info) for runs, info in infos if info["kind"] == "original"}
        compared = [(runs, info) for runs, info in infos
                    if info["kind"] != "original" and tuple(info["sources"]) in originals]
        if not compared:
            continue
        used = {id(originals[tuple(info["sources"])][0]) for _, info in compared}
        rows = [(runs, info) for runs, info in infos if id(runs) in used] + compared
        for runs, info in rows:
            in_domain = set().union(*(IN_DOMAIN[s] for s in info["sources"])) if info["sources"] else set()
            ref, ref_info = originals[tuple(info["sources"])]
            for task in sorted(set.intersection(*(set(r.tasks) for r in runs))):
                metric = runs[0].score(task).metric
                table = seed_table(runs, task)
                own = seeded_interval(table, confidence=confidence, resamples=resamples, seed=seed)
                entry = {"base_model": base, "n_train": n, "label": info["label"], "kind": info["kind"],
                         "task": task, "benchmark": benchmark_of(task), "metric": metric, "value": own["value"],
                         "ci": own["ci"], "n": table.shape[1], "seeds": seeds_of(runs),
                         "seed_sd": own["seed_sd"], "item_sd": own["item_sd"],
                         "in_domain": benchmark_of(task) in in_domain, "results": [str(r.path) for r in runs]}
                if runs is not ref and all(task in r.tasks and r.score(task).metric == metric for r in ref):
                    keys = common_keys(runs + ref, task)
                    if keys:
                        delta = seeded_difference(seed_table(runs, task, keys), seed_table(ref, task, keys),
                                                  confidence=confidence, resamples=resamples, seed=seed)
                        entry.update(vs=ref_info["label"], delta=delta, verdict=verdict(delta, metric))
                out.append(entry)
    return out


def interval_text(lo, hi, metric: str, signed: bool = False) -> str:
    return f"[{score_text(lo, metric, signed)}, {score_text(hi, metric, signed)}]"


def comparisons_table(rows: list[dict]) -> str:
    """One table per (base model, N): every training data's score per task, and its paired difference from the
    original data with the interval and the verdict."""
    if not rows:
        return ("No two training data were evaluated at the same N with an `original` row to compare against "
                "(train the `<source>-original` config at one of the strategies' N).\n")
    conf = rows[0]["delta"]["confidence"] if "delta" in rows[0] else 0.95
    parts = []
    many = len({r["base_model"] for r in rows}) > 1
    for key in dict.fromkeys((r["base_model"], r["n_train"]) for r in rows):
        group = [r for r in rows if (r["base_model"], r["n_train"]) == key]
        head = f"### N = {key[1]:,.0f}" + (f" ({key[0]})" if many else "")
        lines = [head, "", f"| training data | seeds | task | domain | score [{conf:.0%} CI] | Δ vs original "
                           f"[{conf:.0%} CI] | seed spread | item spread | detectable | reading |",
                 "|---|---:|---|---|---|---|---:|---:|---:|---|"]
        for r in sorted(group, key=lambda r: (r["task"], r["kind"] != "original", r["label"])):
            m = r["metric"]
            unit = " bits/byte" if m == "bpb" else " %"
            score = f"{score_text(r['value'], m)}{unit} {interval_text(*r['ci'], m)}"
            spreads = ["—", "—", "—"]
            if "delta" in r:
                d = r["delta"]
                delta = f"{score_text(d['difference'], m, True)} {interval_text(*d['ci'], m, True)}"
                reading = f"**{r['verdict']}**" if r["verdict"] != CANNOT_TELL else r["verdict"]
                spreads = [f"±{score_text(d[k], m)}" for k in ("seed_sd", "item_sd", "mdd")]
                if max(d["seeds"]) == 1:  # no seed noise was measured, which is not the same as none
                    spreads[0] = "1 seed"
            else:
                delta, reading = "—", "reference" if r["kind"] == "original" else "—"
            domain = "in-domain" if r["in_domain"] else "cross-domain"
            lines.append(f"| {r['label']} | {len(r['seeds'])} | {r['task']} | {domain} | {score} | {delta} | "
                         + " | ".join(spreads) + f" | {reading} |")
        parts.append("\n".join(lines) + "\n")
    one_seed = all(len(r["seeds"]) == 1 for r in rows)
    return ("\n".join(parts) + f"\nΔ: the difference from the original data over the same evaluation items, with "
            f"a {conf:.0%} interval from a bootstrap that resamples the training seeds of each row and the items "
            "together (the pigeonhole bootstrap for crossed seed x item designs, Owen 2007; docs/analysis.md). "
            "Seed spread and item spread: the standard deviation of Δ when only the seeds, or only the items, are "
            "resampled. Detectable: the smallest true difference this job would find 80% of the time at a 5% "
            "two-sided level (2.8 x the combined standard error, at these seeds and items). Bits per byte: lower "
            "is better, so a negative Δ is an improvement. A strategy **helps** only when the whole combined "
            "interval is on the better side of 0 (hurts: on the worse side); otherwise the job cannot tell it from "
            "the original seeds."
            + (" Every row has one training seed, so the intervals cover evaluation noise only: set "
               "`train.seeds` to measure the seed noise." if one_seed else "") + "\n")


# --------------------------------------------------------------------------------------------- findings

def _fit_finding(f: dict) -> str:
    m = f.get("metric", "accuracy")
    unit = " bits/byte" if m == "bpb" else " %"
    first, last = f["points"][0], f["points"][-1]
    change = f.get("change")
    text = (f"**{f['task']}**, {f['series']}: {score_text(first['value'], m)}{unit} {interval_text(*first['ci'], m)} at "
            f"N = {first['n_train']:,.0f} → {score_text(last['value'], m)}{unit} {interval_text(*last['ci'], m)} at "
            f"N = {last['n_train']:,.0f}")
    if change:
        lo, hi = change["ci"]
        moved = lo is not None and hi is not None and (lo > 0 or hi < 0)
        noise = ("the noise of training seeds and evaluation items" if "seeds" in f.get("bootstrap", {}).get("scheme", "")
                 else "the evaluation noise")
        text += (f"; change {score_text(change['difference'], m, True)} {interval_text(lo, hi, m, True)}, paired over "
                 "the same items: " + (f"larger than {noise} (the interval excludes 0)" if moved
                                       else f"within {noise} (the interval includes 0)"))
    sel = f["models"][f["selected"]]
    if f["selected"] == "loglinear":
        lo, hi = sel["ci"]["b"]
        per = "bits/byte" if m == "bpb" else "accuracy"
        text += f". Log-linear slope {sel['params']['b']:+.4f} {per} per unit of ln N [{lo:+.4f}, {hi:+.4f}]"
    else:
        text += f". Segmented fit, breakpoint N ≈ {sel['params']['breakpoint_n']:,.0f}"
    if f.get("target") and f["target"].get("n"):
        t = f["target"]
        goal = f"{t['value']:.0%} accuracy" if m == "accuracy" else f"{t['value']:.3f} bits/byte"
        text += f"; {goal} at N ≈ {t['n']:,.0f}" + (" (extrapolated)" if t["extrapolated"] else "")
    return text + "."


def findings(fit: dict | None, comparisons: list[dict], demo: bool, jumps: list[dict] = ()) -> str:
    """The report's findings in words, each with its interval; `jumps`: analysis.format_jump's base -> N_min steps."""
    from augmath.analysis.format_jump import format_text

    lines = []
    for f in (fit or {}).get("fits", []):
        if "error" not in f:
            lines.append("- " + _fit_finding(f))
            lines += ["- " + format_text(j, f.get("metric", "accuracy")) for j in jumps
                      if (j["task"], j["series"]) == (f["task"], f["series"])]
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in comparisons:
        if "delta" in r:
            groups[(r["base_model"], r["n_train"], r["label"], r["vs"])].append(r)
    for (_, n, label, vs), rows in groups.items():
        parts = []
        for r in sorted(rows, key=lambda r: (not r["in_domain"], r["task"])):
            m, d = r["metric"], r["delta"]
            parts.append(f"{r['task']} ({'in-domain' if r['in_domain'] else 'cross-domain'}) "
                         f"{score_text(d['difference'], m, True)} {interval_text(*d['ci'], m, True)}: {r['verdict']}")
        helps = [r["task"] for r in rows if r["verdict"] == "helps"]
        hurts = [r["task"] for r in rows if r["verdict"] == "hurts"]
        summary = ("helps on " + ", ".join(helps) if helps else "helps on no task") + \
            ("; hurts on " + ", ".join(hurts) if hurts else "")
        lines.append(f"- At N = {n:,.0f}, **{label}** against {vs}: {summary} ({'; '.join(parts)}).")
    if not lines:
        lines.append("- No scaling fit and no comparison at equal N: nothing to state yet.")
    metrics = {r["metric"] for r in comparisons} | {f.get("metric", "accuracy") for f in (fit or {}).get("fits", [])
                                                    if "error" not in f}
    notes = []
    if "bpb" in metrics:
        notes.append("Bits per byte is how surprised the model is by the benchmark's reference solution after the "
                     "training prompt (lower is better); it moves with every training example long before greedy "
                     "accuracy does, so it ranks training data at small scale, but it is not accuracy.")
    if demo:
        notes.append("A 135M model trained on a few dozen rows: these findings show "
                     "that the measurement works and moves; they are no accuracy claim about any strategy.")
    return "\n".join(lines) + "\n\n" + "".join(f"{n}\n\n" for n in notes)
