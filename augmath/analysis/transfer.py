"""`augmath transfer`: the in-domain / cross-domain matrix (MuggleMath's third question).

Rows are training data, read from each results folder's provenance; columns are benchmarks:

    base model (no fine-tuning) | GSM8K original | AugGSM8K: <strategy> ... | AugGSM8K | MATH original | AugMATH: ...
    | AugMATH | AugGSM8K + AugMATH (mixtures)          x          gsm8k  math  math500  svamp  asdiv  mawps

A cell is in-domain when the benchmark is the one whose *training split* the data came from (GSM8K train ->
gsm8k; MATH train -> math and math500, MATH-500 being a subset of MATH test). SVAMP, ASDiv and MAWPS are
grade-school word problems like GSM8K's, but no training data comes from them, so they count as cross-domain.
Deltas are taken against the `original` row of the same source(s) and base model.

Cells hold one metric: accuracy (the generative tasks) or, with `--metric bpb`, bits per byte of the reference
solution (the likelihood tasks gsm8k_bpb, ...; lower is better, so a negative delta is an improvement).
Default (`auto`): accuracy when the folders have accuracy tasks, else bits per byte.

Rows trained with several seeds (train.seeds; folders differing only in their recorded seed) are one row: the
mean over seeds, its standard error from the seeds x items bootstrap. transfer.json's `transfer_index` holds the
normalised transfer index per strategy and N (augmath.analysis.transfer_index).

Writes transfer.json, transfer.csv, transfer.md, transfer.png (+ transfer_delta.csv / .png when deltas exist).
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

from augmath.analysis.results import HIGHER_IS_BETTER, METRICS, ResultsFolder, is_demo_model, load_many
from augmath.evalsets import BENCHMARKS as REGISTRY
from augmath.evalsets import LIKELIHOOD_SUFFIX, benchmark_of
from augmath.io import DataError, atomic_write, write_json_atomic

SCHEMA = "augmath.analysis.transfer/2"  # /2: `metric`; cells hold `value` (was `accuracy`)
BENCHMARKS = list(REGISTRY)  # the column order: the registry's
SOURCES = {"gsm8k": "GSM8K", "math": "MATH"}
IN_DOMAIN = {"gsm8k": {"gsm8k"}, "math": {"math", "math500"}}
KIND_ORDER = {"base": 0, "original": 1, "strategy": 2, "all": 3, "mixture": 4, "other": 5}


def row_sources(r: ResultsFolder) -> tuple[str, ...]:
    """Which benchmark training splits the data came from: provenance.source, else the config name."""
    raw = r.provenance.get("source")
    if isinstance(raw, str) and raw:
        parts = raw.replace(",", "+").split("+")
    elif isinstance(raw, list):
        parts = [str(p) for p in raw]
    else:
        config = r.config or ""
        parts = list(SOURCES) if config == "default" else [config.split("-")[0]]
    return tuple(sorted({p.strip().lower() for p in parts if p.strip().lower() in SOURCES}))


def classify(r: ResultsFolder) -> dict:
    """Row identity: kind, sources, strategy and a display label."""
    if not r.trained:
        return {"kind": "base", "sources": (), "strategy": None, "label": "base model (no fine-tuning)"}
    sources = row_sources(r)
    config, strategy = r.config or "", r.strategy
    if strategy is None and "-" in config:
        strategy = config.split("-", 1)[1]
    if strategy in ("", "all", "mixed", "none"):
        strategy = None
    if not sources:
        return {"kind": "other", "sources": (), "strategy": strategy, "label": config or str(r.path.name)}
    aug = " + ".join(f"Aug{SOURCES[s]}" for s in sources)
    if strategy == "original":
        kind, label = "original", " + ".join(SOURCES[s] for s in sources) + " original"
    elif len(sources) > 1:
        kind, label = "mixture", aug + (f": {strategy}" if strategy else "")
    elif strategy:
        kind, label = "strategy", f"{aug}: {strategy}"
    else:
        kind, label = "all", aug
    return {"kind": kind, "sources": sources, "strategy": strategy, "label": label}


def choose_metric(folders: list[ResultsFolder], metric: str = "auto") -> str:
    """`auto`: accuracy when any folder has an accuracy task, else bits per byte."""
    present = {s.metric for r in folders for s in r.tasks.values()}
    if metric == "auto":
        return "accuracy" if "accuracy" in present or not present else "bpb"
    if metric not in METRICS:
        raise DataError(f"unknown metric {metric!r}; valid: auto, {', '.join(METRICS)}")
    if metric not in present:
        raise DataError(f"no results folder has a {metric} task (tasks found: "
                        f"{', '.join(sorted({t for r in folders for t in r.tasks}))})")
    return metric


def task_key(benchmark: str, metric: str) -> str:
    """The results.json key of a column: gsm8k (accuracy) or gsm8k_bpb (bits per byte)."""
    return benchmark + (LIKELIHOOD_SUFFIX if metric == "bpb" else "")


def build_matrix(folders: list[ResultsFolder], *, all_n: bool = False, tasks: list[str] | None = None,
                 metric: str = "auto") -> dict:
    """The JSON-ready matrix. By default one row per training data (its largest N); all_n keeps every N.
    Columns are benchmarks (gsm8k, ...); cells hold `metric` (see choose_metric)."""
    metric = choose_metric(folders, metric)
    many_models = len({r.base_model for r in folders}) > 1
    rows: dict[tuple, dict] = {}
    groups = _seed_groups(folders)
    for runs in groups.values():
        r = runs[0]
        info = classify(r)
        n_train = r.provenance.get("n_train") if r.trained else None
        label = (f"{Path(r.base_model).name}: " if many_models else "") + info["label"]
        key = (r.base_model, info["label"], n_train if all_n else None)
        if key in rows and (n_train or 0) < (rows[key]["n_train"] or 0):
            continue  # keep the largest N for this row
        rows[key] = {"label": label, **info, "sources": list(info["sources"]), "n_train": n_train,
                     "base_model": r.base_model, "config": r.config, "results": str(r.path),
                     "seeds": [x.seed for x in runs], "_folders": runs}
    if all_n:  # several N for one training data: say which in the label
        counts: dict[tuple, int] = {}
        for (base, lab, _), row in rows.items():
            counts[(base, lab)] = counts.get((base, lab), 0) + 1
        for (base, lab, n), row in rows.items():
            if counts[(base, lab)] > 1:
                row["label"] += f" (N={n:g})"
    present = {benchmark_of(t) for r in folders for t, score in r.tasks.items() if score.metric == metric}
    columns = [benchmark_of(t) for t in tasks] if tasks else \
        [t for t in BENCHMARKS if t in present] + sorted(present - set(BENCHMARKS))
    ordered = sorted(rows.values(), key=lambda row: (row["base_model"], row["sources"] if row["kind"] != "mixture"
                                                     else ["~"], KIND_ORDER[row["kind"]], row["label"]))
    for row in ordered:
        runs: list[ResultsFolder] = row.pop("_folders")
        in_domain = set().union(*(IN_DOMAIN[s] for s in row["sources"])) if row["sources"] else set()
        row["cells"] = {t: _cell(runs, task_key(t, metric), metric, t in in_domain) for t in columns}
    _add_deltas(ordered)
    return {"schema": SCHEMA, "metric": metric, "higher_is_better": HIGHER_IS_BETTER[metric], "columns": columns,
            "rows": ordered, "transfer_index": _indices(groups, columns, metric)}


def _indices(groups: dict, columns: list[str], metric: str) -> list[dict]:
    """The normalised transfer index (augmath.analysis.transfer_index) of every strategy at every N that has an
    original row of the same source and base model at that N."""
    from augmath.analysis.transfer_index import transfer_index

    infos = {k: classify(runs[0]) for k, runs in groups.items()}
    originals = {(k[0], tuple(i["sources"]), k[2]): groups[k] for k, i in infos.items() if i["kind"] == "original"}
    out = []
    for (base, label, n), runs in groups.items():
        info = infos[(base, label, n)]
        ref = originals.get((base, tuple(info["sources"]), n))
        if info["kind"] in ("base", "original", "other") or ref is None:
            continue
        in_dom = set().union(*(IN_DOMAIN[s] for s in info["sources"]))
        present = [t for t in columns if all(task_key(t, metric) in r.tasks for r in runs + ref)]
        index = transfer_index(runs, ref, [task_key(t, metric) for t in present if t in in_dom],
                               [task_key(t, metric) for t in present if t not in in_dom])
        if index is not None:
            out.append({"base_model": base, "label": label, "n_train": n, "vs": classify(ref[0])["label"], **index})
    return sorted(out, key=lambda x: (x["base_model"], x["label"], x["n_train"] or 0))


def index_markdown(indices: list[dict]) -> str:
    """The transfer index table (empty when no strategy has an original row at its N)."""
    if not indices:
        return ""
    conf = indices[0]["confidence"]
    lines = [f"| training data | N | seeds | Δ in-domain [{conf:.0%} CI] | Δ cross-domain [{conf:.0%} CI] | "
             f"transfer index [{conf:.0%} CI] |", "|---|---:|---:|---|---|---|"]
    fmt = lambda v: "—" if v is None else f"{v:+.3f}"  # noqa: E731
    for x in indices:
        index = f"{fmt(x['index'])} [{fmt(x['ci'][0])}, {fmt(x['ci'][1])}]"
        if not x["defined"]:
            index += " (undefined: the in-domain change is within the noise)"
        lines.append(f"| {x['label']} | {x['n_train']:,.0f} | {x['seeds'][0]} | {fmt(x['in_domain_change'])} "
                     f"[{fmt(x['in_domain_ci'][0])}, {fmt(x['in_domain_ci'][1])}] | {fmt(x['cross_domain_change'])} "
                     f"[{fmt(x['cross_domain_ci'][0])}, {fmt(x['cross_domain_ci'][1])}] | {index} |")
    return ("\n".join(lines) + "\n\nTransfer index: the mean cross-domain change over the mean in-domain change, both "
            "against the original data at the same N (1 = the in-domain change carries over whole, 0 = not at all, "
            "< 0 = reversed out of domain); intervals resample training seeds and evaluation items "
            "(augmath.analysis.transfer_index).\n")


def _seed_groups(folders: list[ResultsFolder]) -> dict:
    """(base model, training data, N) -> its runs: several only when they differ in their recorded seed."""
    from augmath.analysis.seeds import group_runs

    def key(r: ResultsFolder) -> tuple:
        return (r.base_model, classify(r)["label"], r.provenance.get("n_train") if r.trained else None)

    groups = group_runs(folders, key)
    for (_, label, n), runs in groups.items():
        if len(runs) > 1 and any(r.seed is None for r in runs):
            raise DataError(f"{runs[1].path} and {runs[0].path} are both '{label}' at N={n}; pass only one "
                            "(or runs that record distinct training seeds)")
    return groups


def _cell(runs: list[ResultsFolder], task: str, metric: str, in_domain: bool) -> dict | None:
    """One cell: a run's score, or the mean over seed runs with the seeds x items bootstrap's standard error."""
    scores = [r.tasks.get(task) for r in runs]
    if any(sc is None or sc.metric != metric for sc in scores):
        return None
    cell = {"value": scores[0].value, "n": scores[0].n, "stderr": scores[0].stderr, "in_domain": in_domain,
            "task": task}
    if len(runs) > 1:
        from augmath.analysis.seeds import seed_table
        from augmath.stats import seeded_interval

        est = seeded_interval(seed_table(runs, task))
        cell.update(value=est["value"], n=est["n"], stderr=est["sd"], seeds=len(runs), seed_sd=est["seed_sd"],
                    item_sd=est["item_sd"])
    return cell


def _add_deltas(rows: list[dict]) -> None:
    originals = {(row["base_model"], tuple(row["sources"])): row for row in rows if row["kind"] == "original"}
    for row in rows:
        ref = originals.get((row["base_model"], tuple(row["sources"])))
        if ref is None or ref is row:
            continue
        row["delta_vs"] = ref["label"]
        for t, cell in row["cells"].items():
            base = ref["cells"].get(t)
            if cell is not None and base is not None:
                cell["delta"] = cell["value"] - base["value"]


def _cell_text(c: dict, metric: str, delta: bool) -> str:
    if metric == "bpb":
        return f"{c['delta']:+.3f}" if delta else f"{c['value']:.3f} ± {c['stderr']:.3f}"
    return f"{c['delta'] * 100:+.1f}" if delta else f"{c['value'] * 100:.1f} ± {c['stderr'] * 100:.1f}"


WORDS = {
    "accuracy": {"cells": "accuracy %", "title": "Accuracy (%)", "delta": "accuracy points",
                 "delta_title": "accuracy (points)"},
    "bpb": {"cells": "bits per byte of the reference solution, lower is better", "title": "Bits per byte",
            "delta": "bits per byte; negative = better", "delta_title": "bits per byte"},
}


def to_markdown(matrix: dict, delta: bool = False) -> str:
    cols, metric = matrix["columns"], matrix.get("metric", "accuracy")
    lines = ["| training data | N | " + " | ".join(cols) + " |", "|---|---:|" + "---:|" * len(cols)]
    for row in matrix["rows"]:
        if delta and "delta_vs" not in row:
            continue
        cells = []
        for t in cols:
            c = row["cells"][t]
            if c is None or (delta and "delta" not in c):
                cells.append("—")
                continue
            text = _cell_text(c, metric, delta)
            cells.append(f"**{text}**" if c["in_domain"] else text)
        n = "—" if row["n_train"] is None else f"{row['n_train']:,.0f}"
        lines.append(f"| {row['label']} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_csv(matrix: dict, delta: bool = False) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["training_data", "kind", "n_train", "base_model", *matrix["columns"], "in_domain"])
    for row in matrix["rows"]:
        if delta and "delta_vs" not in row:
            continue
        key = "delta" if delta else "value"
        values = [("" if c is None or key not in c else f"{c[key]:.6f}") for c in row["cells"].values()]
        in_domain = ";".join(t for t, c in row["cells"].items() if c and c["in_domain"])
        writer.writerow([row["label"], row["kind"], "" if row["n_train"] is None else row["n_train"],
                         row["base_model"], *values, in_domain])
    return buf.getvalue()


def write_transfer(paths: list, out_dir, *, all_n: bool = False, tasks: list[str] | None = None,
                   deltas: bool = True, metric: str = "auto") -> dict:
    """Build the matrix from results folders and write every artifact into out_dir; returns the JSON."""
    from augmath.analysis.plots import plot_transfer

    matrix = build_matrix(load_many(paths), all_n=all_n, tasks=tasks, metric=metric)
    metric = matrix["metric"]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows, cols = matrix["rows"], matrix["columns"]
    labels = [r["label"] + ("" if r["n_train"] is None else f" (N={r['n_train']:,.0f})") for r in rows]
    in_dom = [[bool(r["cells"][t] and r["cells"][t]["in_domain"]) for t in cols] for r in rows]
    values = [[r["cells"][t]["value"] if r["cells"][t] else None for t in cols] for r in rows]
    files = {"json": "transfer.json", "csv": "transfer.csv", "markdown": "transfer.md", "heatmap": "transfer.png"}
    words = WORDS[metric]
    md = [f"## Transfer matrix ({words['cells']}, ± standard error; **bold** = in-domain)\n\n", to_markdown(matrix)]
    demo = any(is_demo_model(r["base_model"]) for r in rows)
    plot_transfer(values, labels, cols, in_dom, out / files["heatmap"], title=f"{words['title']} by training data",
                  demo=demo, metric=metric)
    atomic_write(out / files["csv"], to_csv(matrix))
    delta_rows = [i for i, r in enumerate(rows) if "delta_vs" in r]
    if deltas and delta_rows:
        files.update({"delta_csv": "transfer_delta.csv", "delta_heatmap": "transfer_delta.png"})
        md += [f"\n## Change vs the original data of the same source ({words['delta']})\n\n", to_markdown(matrix, True)]
        atomic_write(out / files["delta_csv"], to_csv(matrix, delta=True))
        dvals = [[(rows[i]["cells"][t] or {}).get("delta") for t in cols] for i in delta_rows]
        plot_transfer(dvals, [labels[i] for i in delta_rows], cols, [in_dom[i] for i in delta_rows],
                      out / files["delta_heatmap"], title=f"Δ {words['delta_title']} vs original", delta=True,
                      demo=demo, metric=metric)
    if matrix["transfer_index"]:
        md += ["\n## Normalised transfer index (cross-domain change over in-domain change)\n\n",
               index_markdown(matrix["transfer_index"])]
    atomic_write(out / files["markdown"], "".join(md))
    matrix["files"] = files
    write_json_atomic(out / files["json"], matrix)
    return matrix


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("results", nargs="+", help="results folders written by `augmath eval`")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--all-n", action="store_true", help="one row per data amount (default: the largest N per row)")
    p.add_argument("--tasks", help="comma-separated columns (default: every benchmark found, in canonical order)")
    p.add_argument("--no-deltas", action="store_true", help="skip the deltas against the `original` rows")
    p.add_argument("--metric", default="auto", choices=("auto", *METRICS),
                   help="cells: accuracy, or bpb (bits per byte of the reference solution, the _bpb tasks); "
                        "auto (default): accuracy if present, else bpb")


def run(args: argparse.Namespace) -> int:
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else None
    matrix = write_transfer(args.results, args.out, all_n=args.all_n, tasks=tasks, deltas=not args.no_deltas,
                            metric=args.metric)
    print(to_markdown(matrix), end="")
    print(f"wrote {', '.join(str(Path(args.out) / f) for f in matrix['files'].values())}")
    return 0
