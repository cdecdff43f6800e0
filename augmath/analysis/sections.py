"""Markdown sections of the experiment report (augmath.analysis.report) and their number formats.

Markdown sections of the experiment report (augmath.analysis.report): each training data at its largest N, the
fit table, data statistics, the summary and timing tables, and the number formats they share with
augmath.analysis.findings (comparisons at equal N, findings in words).

Each function takes the stages' JSON outputs or folders and returns JSON-ready records or markdown text; nothing
here writes files.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

from augmath.io import read_json, read_jsonl

_DECONTAM = re.compile(r"contam|overlap|leak", re.IGNORECASE)


def pct_text(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "—"
    return f"{x * 100:+.1f}" if signed else f"{x * 100:.1f}"


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def strategy_rows(transfer: dict) -> list[dict]:
    """One row per training data of the transfer matrix: in-domain and cross-domain scores (accuracy or bits per
    byte, the matrix's metric) and their deltas against the original data."""
    rows = []
    originals = {(r["base_model"], tuple(r["sources"])): r for r in transfer["rows"] if r["kind"] == "original"}
    for r in transfer["rows"]:
        cells = {t: c for t, c in r["cells"].items() if c is not None}
        ind = {t: c for t, c in cells.items() if c["in_domain"]}
        cross = {t: c for t, c in cells.items() if not c["in_domain"]}
        ref = originals.get((r["base_model"], tuple(r["sources"])))
        row = {"label": r["label"], "kind": r["kind"], "n_train": r["n_train"],
               "metric": transfer.get("metric", "accuracy"),
               "in_domain": {t: [c["value"], c["stderr"]] for t, c in ind.items()},
               "in_domain_mean": _mean([c["value"] for c in ind.values()]),
               "cross_domain_mean": _mean([c["value"] for c in cross.values()]),
               "cross_domain_tasks": sorted(cross)}
        if ref is not None and ref is not r:
            ref_cells = {t: c for t, c in ref["cells"].items() if c is not None}
            d_in = [c["value"] - ref_cells[t]["value"] for t, c in ind.items() if t in ref_cells]
            d_x = [c["value"] - ref_cells[t]["value"] for t, c in cross.items() if t in ref_cells]
            row.update(vs=ref["label"], delta_in_domain=_mean(d_in), delta_cross_domain=_mean(d_x))
        rows.append(row)
    return rows


def score_text(x: float | None, metric: str, signed: bool = False) -> str:
    if x is None:
        return "—"
    if metric == "bpb":
        return f"{x:+.3f}" if signed else f"{x:.3f}"
    return pct_text(x, signed)


def strategy_table(rows: list[dict]) -> str:
    """Each training data at its largest N (the transfer matrix's rows), in the matrix's metric."""
    if not rows:
        return "No results.\n"
    metric = rows[0].get("metric", "accuracy")
    unit = "bits/byte" if metric == "bpb" else "accuracy %"
    lines = [f"| training data | N | in-domain {unit} (± s.e.) | Δ in-domain | cross-domain mean {unit} | Δ cross-domain |",
             "|---|---:|---|---:|---:|---:|"]
    for r in rows:
        ind = "; ".join(f"{t} {score_text(a, metric)} ± {score_text(s, metric)}" for t, (a, s) in r["in_domain"].items()) or "—"
        n = "—" if r["n_train"] is None else f"{r['n_train']:,.0f}"
        lines.append(f"| {r['label']} | {n} | {ind} | {score_text(r.get('delta_in_domain'), metric, True)} | "
                     f"{score_text(r['cross_domain_mean'], metric)} | {score_text(r.get('delta_cross_domain'), metric, True)} |")
    what = "bits per byte (negative: better)" if metric == "bpb" else "accuracy points"
    return ("\n".join(lines) + f"\n\nΔ columns: {what} against the `original` data of the same source "
            "(the untouched seeds), averaged over the in-domain or cross-domain benchmarks. Rows may differ in N; "
            "the comparisons at equal N above are the ones to read.\n")


def _param_text(model: str, m: dict) -> str:
    names = ["a", "b"] if model == "loglinear" else ["b1", "b2", "breakpoint_n"]  # same for both metrics
    parts = []
    for k in names:
        v, (lo, hi) = m["params"][k], m["ci"][k]
        fmt = (lambda x: f"{x:,.0f}") if k == "breakpoint_n" else (lambda x: f"{x:.4f}")
        parts.append(f"{k} = {fmt(v)} [{fmt(lo)}, {fmt(hi)}]")
    return "; ".join(parts)


def fits_section(fit: dict) -> str:
    fits = fit.get("fits", [])
    if not fits and not fit.get("skipped"):
        return "No series with two or more data amounts.\n"
    conf = next((f["bootstrap"]["confidence"] for f in fits if "bootstrap" in f), 0.95)
    lines = [f"| task | series | points | selected model | parameters [{conf:.0%} CI] | ΔBIC (seg − lin) | N for target |",
             "|---|---|---:|---|---|---:|---|"]
    notes = []
    for f in fits:
        if "error" in f:
            notes.append(f"- **{f['task']} / {f['series']}: not fitted** — {f['error']}")
            continue
        m = f["models"][f["selected"]]
        dbic = f["selection"].get("delta_bic")
        t = f.get("target")
        target = "—"
        if t:
            lo, hi = t["ci"]
            rng = f"[{lo:,.0f}, {'∞' if hi is None else f'{hi:,.0f}'}]" if lo is not None else ""
            goal = f"acc {t['value']:.0%}" if f.get("metric", "accuracy") == "accuracy" else f"{t['value']:.3f} bits/byte"
            target = (f"{goal}: " + (f"N ≈ {t['n']:,.0f} {rng}" if t["n"] else "unreachable")
                      + (" (extrapolated)" if t["extrapolated"] else ""))
        lines.append(f"| {f['task']} | {f['series']} | {len(f['points'])} | {f['selected']} | "
                     f"{_param_text(f['selected'], m)} | {'—' if dbic is None else f'{dbic:+.1f}'} | {target} |")
        notes += [f"- {f['task']} / {f['series']}: {flag}" for flag in f["flags"]]
    skipped = fit.get("skipped", [])
    if skipped:
        notes.append("- single data amount, shown in the tables but not fitted: "
                     + ", ".join(f"{k['series']} (N={k['n_train'][0]:,.0f})" for k in skipped))
    text = "\n".join(lines) + "\n\n"
    text += ("Model: score = a + b·ln N (log-linear) or two such lines joined at N_c (segmented; slopes b1, b2); the "
             "score is accuracy (0-1), or bits per byte for the _bpb tasks (lower is better: a negative slope). "
             "The segmented model is selected only when BIC prefers it by more than 2 with at least 5 points. "
             + ("Intervals: bootstrap over training seeds and evaluation items (the folders at one N are its seed "
                "runs; docs/analysis.md).\n" if any("seeds" in f.get("bootstrap", {}).get("scheme", "") for f in fits)
                else "Intervals: bootstrap over evaluation items (evaluation noise only, not training-seed noise: "
                "set train.seeds for that).\n"))
    return text + ("\n" + "\n".join(notes) + "\n" if notes else "")


def _scalars(obj, prefix: str = "") -> list[tuple[str, object]]:
    """Dotted-path scalar leaves of a JSON object (lists of scalars shown whole)."""
    if isinstance(obj, dict):
        return [kv for k, v in obj.items() for kv in _scalars(v, f"{prefix}{k}.")]
    if isinstance(obj, list) and any(isinstance(v, (dict, list)) for v in obj):
        return [kv for i, v in enumerate(obj) for kv in _scalars(v, f"{prefix}{i}.")]
    return [(prefix[:-1], obj)]


def _run_verification(run: Path) -> tuple[list[str], Counter]:
    groups: dict[tuple, dict] = defaultdict(lambda: {"rows": 0, "verified": 0, "agreement": [], "methods": Counter()})
    items = run / "items.jsonl"
    if items.is_file():
        for row in read_jsonl(items, tolerate_torn_tail=True):
            g = groups[(row.get("source", "?"), row.get("strategy", "?"))]
            g["rows"] += 1
            g["verified"] += bool(row.get("verified"))
            if isinstance(row.get("agreement"), (int, float)):
                g["agreement"].append(float(row["agreement"]))
            g["methods"][str(row.get("verification"))] += 1
    dropped = Counter()
    if (run / "dropped.jsonl").is_file():
        dropped.update(str(r.get("reason", "unknown")) for r in read_jsonl(run / "dropped.jsonl", tolerate_torn_tail=True))
    lines = []
    for (src, strat), g in sorted(groups.items()):
        agree = _mean(g["agreement"])
        methods = ", ".join(f"{m} {n}" for m, n in g["methods"].most_common())
        lines.append(f"| {run.name} | {src} | {strat} | {g['rows']:,} | {g['verified'] / g['rows']:.1%} | "
                     f"{'—' if agree is None else f'{agree:.2f}'} | {methods} |")
    return lines, dropped


def data_statistics(run_dirs: list[Path], dataset_dir) -> str:
    if not run_dirs and dataset_dir is None:
        return "No augment run folders or dataset folder were given.\n"
    parts = []
    ver_lines, drops, decontam, other = [], {}, [], []
    for run in run_dirs:
        lines, dropped = _run_verification(run)
        ver_lines += lines
        if dropped:
            drops[run.name] = dropped
        report = run / "report.json"
        if report.is_file():
            leaves = _scalars(read_json(report))
            for k, v in leaves:
                (decontam if _DECONTAM.search(k) else other).append(f"| {run.name} | `{k}` | {v} |")
    if ver_lines:
        parts += ["### Verification (kept rows, from items.jsonl)\n",
                  "| run | source | strategy | rows | verified | mean agreement | verification methods |",
                  "|---|---|---|---:|---:|---:|---|", *ver_lines, ""]
    if drops:
        parts += ["### Dropped rows (dropped.jsonl, by reason)\n", "| run | reason | rows |", "|---|---|---:|"]
        parts += [f"| {run} | {reason} | {n:,} |" for run, c in drops.items() for reason, n in c.most_common()] + [""]
    parts += ["### Decontamination (from each run's report.json)\n"]
    parts += (["| run | field | value |", "|---|---|---|", *decontam, ""] if decontam
              else ["No decontamination fields in the runs' report.json.\n"])
    if other:
        parts += ["<details><summary>Other run report fields</summary>\n", "| run | field | value |", "|---|---|---|",
                  *other, "\n</details>\n"]
    if dataset_dir is not None:
        manifest_path = Path(dataset_dir) / "manifest.json"
        if manifest_path.is_file():
            m = json.loads(manifest_path.read_text(encoding="utf-8"))
            parts += [f"### Dataset `{m.get('name', '?')}` version {m.get('version', '?')} (seed {m.get('seed', '?')})\n",
                      "| config | kind | rows | sources | strategies |", "|---|---|---:|---|---|"]
            for name, c in m.get("configs", {}).items():
                parts.append(f"| `{name}` | {c.get('kind', '')} | {c.get('rows', 0):,} | "
                             f"{', '.join(c.get('sources', []))} | {', '.join(c.get('strategies', []))} |")
            parts.append("")
        else:
            parts.append(f"No manifest.json in {dataset_dir}.\n")
    return "\n".join(parts) + "\n"


def summary_table(folders: list) -> str:
    """One row per evaluated model, in the order given: what it was trained on, how many rows, and each task's
    score with its standard error and item count (the plain table of the whole study): accuracy in percent,
    bits per byte as is."""
    if not folders:
        return "No results.\n"
    tasks = list(dict.fromkeys(t for r in folders for t in r.tasks))
    head = [f"{t} {'bits/byte' if r0.metric == 'bpb' else '%'} (± s.e., n)"
            for t in tasks for r0 in [next(r.tasks[t] for r in folders if t in r.tasks)]]
    lines = ["| model (results folder) | training data | rows | " + " | ".join(head) + " |",
             "|---|---|---:|" + "---:|" * len(tasks)]
    seeded = len({r.seed for r in folders if r.trained}) > 1  # train.seeds: say which seed each row is
    for r in folders:
        n = r.provenance.get("n_train") if r.trained else None
        data = (r.config or "?") + (f" ({r.provenance['subset']})" if r.provenance.get("subset") else "")
        data += f", seed {r.seed}" if seeded and r.trained else ""
        cells = []
        for t in tasks:
            s = r.tasks.get(t)
            if s is None:
                cells.append("—")
            elif s.metric == "bpb":
                cells.append(f"{s.value:.3f} ± {s.stderr:.3f} ({s.n:,})")
            else:
                cells.append(f"{s.value * 100:.1f} ± {s.stderr * 100:.1f} ({s.n:,})")
        lines.append(f"| {r.path.name} | {data if r.trained else 'none (base model)'} | "
                     f"{'—' if n is None else f'{n:,.0f}'} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + ("\n\nAccuracy: greedy, graded by augmath.grading, s.e. binomial. Bits per byte of the "
                               "reference solution: lower is better, s.e. over items.\n")


def timings_table(timings: list[dict]) -> str:
    """Wall-clock seconds per stage (what the runner measured, from each stage's marker) and their sum."""
    if not timings:
        return "No stage timings were given.\n"
    lines = ["| stage | kind | seconds |", "|---|---|---:|"]
    lines += [f"| {t['stage']} | {t['kind']} | {t['seconds']:,.1f} |" for t in timings]
    by_kind = Counter()
    for t in timings:
        by_kind[t["kind"]] += t["seconds"]
    total = sum(by_kind.values())
    lines.append(f"| **all stages above** | | **{total:,.1f}** |")
    shares = ", ".join(f"{k} {v:,.0f} s" for k, v in by_kind.most_common())
    return "\n".join(lines) + f"\n\nBy kind: {shares}. The stages after the report (pushes) are timed in the work " \
                              "folder's timings.json.\n"
