"""The experiment report: one markdown file (optionally HTML) tying the stages' outputs together.

    write_report(out_dir, results, fit_dir=None, transfer_dir=None, run_dirs=(), dataset_dir=None,
                 model_dirs=(), extra_links=None, title=..., html=False, demo=None, published=None,
                 timings=None, description=None)
    -> Path of OUT/report.md

Sections: demo-model banner, the study's description, the figures (scaling plots, transfer heatmaps) first, the
findings in words with their intervals, a summary table (one row per model), strategies compared at equal N
(bootstrap over training seeds and items against the original seeds, in-domain and cross-domain), the noise
table (seed and item spread, the minimal detectable difference: augmath.analysis.noise), the fit table, the
transfer tables, data statistics (verification and drops from the run folders, decontamination counts from
their report.json, configs from the dataset manifest), wall-clock per stage, and links to every artifact. It
also writes OUT/report.json
(the headline numbers, read by the results card: see `render_results_card`). Missing fit/transfer folders
are computed into OUT/fit and OUT/transfer. `timings` (the runner's wall-clock per stage) adds a section and
OUT/timings.json. See docs/analysis.md.

`published` maps local folders (models, the dataset, base models) to what they are on the Hub: "ORG/NAME",
"ORG/NAME@REVISION", or plain words for one that is not published. Given it, the report is written to be
uploaded: every artifact outside OUT is named and linked by its Hub id, never by a local path, and OUT/report.json
lists the models and the dataset for the results card.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterable, Mapping

from augmath.analysis.results import is_demo_model, load_many
from augmath.analysis.findings import comparisons_table, equal_n_comparisons, findings
from augmath.analysis.format_jump import format_jumps
from augmath.analysis.noise import noise_rows, noise_table
from augmath.analysis.sections import (data_statistics, fits_section, strategy_rows, strategy_table, summary_table,
                                       timings_table)
from augmath.io import DataError, atomic_write, read_json, write_json_atomic
from augmath.cards import REPO_ID_RE

SCHEMA = "augmath.analysis.report/2"  # /2: comparisons at equal N, findings, metric-aware fits and strategies
DEMO_BANNER = ("> **Demo model — a 135M model is no accuracy claim.** The base model here is the embedded "
               "SmolLM2-135M-Instruct demo model, fine-tuned on a few dozen rows. What it can show is that the "
               "measurements work and move: the likelihood of the benchmarks' reference solutions (bits per byte) "
               "changes with the training data, with intervals; nothing here says which strategy makes a better "
               "solver.")


def _rel(path: Path, out_dir: Path) -> str:
    return Path(os.path.relpath(Path(path).resolve(), out_dir.resolve())).as_posix()


def _figure(src: Path, out_dir: Path) -> str:
    """A link to a PNG from the report; copied into OUT/figures/ when it lives outside OUT."""
    src = Path(src)
    if out_dir.resolve() in src.resolve().parents:
        return _rel(src, out_dir)
    dest = out_dir / "figures" / f"{src.parent.name}-{src.name}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return _rel(dest, out_dir)


def _load_json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise DataError(f"{path}: missing ({what})")
    return read_json(path)


def _ensure_fit(results: list[Path], fit_dir, out_dir: Path) -> dict | None:
    if fit_dir is None:
        from augmath.analysis.fit import FitError, fit_results

        trained = [p for p in results if load_many([p])[0].trained]
        if not trained:
            return None
        try:
            fit_results(trained, out_dir / "fit")
        except (DataError, FitError) as e:
            return {"fits": [], "plots": {}, "error": str(e), "_dir": out_dir / "fit"}
        fit_dir = out_dir / "fit"
    doc = _load_json(Path(fit_dir) / "fit.json", "written by `augmath fit`")
    doc["_dir"] = Path(fit_dir)
    return doc


def _ensure_transfer(results: list[Path], transfer_dir, out_dir: Path) -> dict:
    if transfer_dir is None:
        from augmath.analysis.transfer import write_transfer

        write_transfer(results, out_dir / "transfer")
        transfer_dir = out_dir / "transfer"
    doc = _load_json(Path(transfer_dir) / "transfer.json", "written by `augmath transfer`")
    doc["_dir"] = Path(transfer_dir)
    return doc


class Published:
    """Local folder -> its Hub name (see the module doc); unpublished local paths shrink to their folder name."""

    def __init__(self, mapping: Mapping | None):
        self.active = mapping is not None
        self.map = {str(Path(k).resolve()): str(v) for k, v in (mapping or {}).items()}

    def ref(self, path) -> str | None:
        return self.map.get(str(Path(path).resolve())) if path is not None else None

    def name(self, model: str) -> str:
        """How a model (Hub id or local path) is named: its Hub id, else its folder name marked as local."""
        ref = self.ref(model) if Path(model).is_absolute() else None
        if ref or not Path(model).is_absolute():
            return ref or model
        return f"{Path(model).name} (local)" if self.active else model

    @staticmethod
    def url(ref: str, kind: str = "model", sub: str = "") -> str | None:
        """https://huggingface.co/... for "ORG/NAME[@REV]" (a dataset's runs/ folder: sub="runs/x"), else None."""
        repo, _, rev = ref.partition("@")
        if not REPO_ID_RE.match(repo):
            return None
        base = f"https://huggingface.co/{'datasets/' if kind == 'dataset' else ''}{repo}"
        return f"{base}/tree/{rev or 'main'}/{sub}" if sub else (f"{base}/tree/{rev}" if rev else base)


def write_report(out_dir, results: Iterable, *, fit_dir=None, transfer_dir=None, run_dirs: Iterable = (),
                 dataset_dir=None, model_dirs: Iterable = (), extra_links: Mapping[str, str] | None = None,
                 title: str = "augmath experiment report", html: bool = False, demo: bool | None = None,
                 published: Mapping | None = None, timings: list[dict] | None = None,
                 description: str | None = None) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    hub = Published(published)
    results = [Path(p) for p in results]
    folders = load_many(results)
    run_dirs, model_dirs = [Path(p) for p in run_dirs], [Path(p) for p in model_dirs]
    if dataset_dir is not None and not run_dirs:  # `augmath build` keeps each run's run/report.json
        run_dirs = sorted(p for p in (Path(dataset_dir) / "runs").glob("*") if p.is_dir())
    fit = _ensure_fit(results, fit_dir, out)
    transfer = _ensure_transfer(results, transfer_dir, out)
    base_models = sorted({hub.name(r.base_model) for r in folders})
    if demo is None:  # recognised by name (SmolLM2-135M); the runner can say so explicitly for renamed copies
        demo = any(is_demo_model(m) for m in base_models + [r.model for r in folders])

    comparisons = equal_n_comparisons(folders)
    jumps = format_jumps(fit, folders)
    table = transfer["_dir"] / transfer.get("files", {}).get("markdown", "transfer.md")

    md = [f"# {title}\n"]
    if demo:
        md.append(DEMO_BANNER + "\n")
    if description:
        md.append(description.strip() + "\n")
    md.append("Base model(s): " + ", ".join(f"`{m}`" for m in base_models)
              + f". {len(folders)} results folder(s); benchmarks: {', '.join(transfer['columns'])}.\n")

    md.append("## Figures\n")  # what a reader sees first
    for task, png in sorted((fit or {}).get("plots", {}).items()):
        md.append(f"![scaling on {task}]({_figure(fit['_dir'] / png, out)})\n")
    for key, caption in (("heatmap", "transfer heatmap"), ("delta_heatmap", "transfer deltas")):
        if key in transfer.get("files", {}):
            md.append(f"![{caption}]({_figure(transfer['_dir'] / transfer['files'][key], out)})\n")

    md += ["## Findings\n", findings(fit, comparisons, demo, jumps)]
    md += ["## Summary\n", summary_table(folders)]
    md += ["## Strategies at equal N\n", comparisons_table(comparisons)]
    md += ["## Noise: training seeds, evaluation items, and what this job could detect\n", noise_table(comparisons)]

    md.append("## Scaling with the amount of augmented data\n")
    if fit is None:
        md.append("No trained model in these results, so nothing to fit.\n")
    else:
        if fit.get("error"):
            md.append(f"The fit could not run: {fit['error']}\n")
        md.append(fits_section(fit))

    md.append("## Transfer: in-domain and cross-domain\n")
    rows = strategy_rows(transfer)
    md += ["Each training data at its largest N:\n", strategy_table(rows)]
    if table.is_file():
        md.append(table.read_text(encoding="utf-8").replace("## ", "### ") + "\n")

    md += ["## Data statistics\n", data_statistics(run_dirs, dataset_dir)]

    if timings is not None:  # the runner's wall-clock per stage, also as data (timings.json)
        write_json_atomic(out / "timings.json", {"stages": timings,
                                                 "total_seconds": round(sum(t["seconds"] for t in timings), 2)})
        md += ["## Wall-clock per stage\n", timings_table(timings)]

    dataset_ref = hub.ref(dataset_dir)
    models = [{"name": hub.name(r.model), "url": Published.url(hub.name(r.model)), "base_model": hub.name(r.base_model),
               "config": r.config, "n_train": r.provenance.get("n_train") if r.trained else None,
               "seed": r.seed if r.trained else None,
               "scores": {t: {"value": s.value, "metric": s.metric} for t, s in r.tasks.items()}} for r in folders]
    model_tasks = list(dict.fromkeys(t for r in folders for t in r.tasks))
    md.append("## Artifacts\n")
    links = [("fit parameters (JSON)", fit["_dir"] / "fit.json") if fit and not fit.get("error") else None]
    links += [(f"transfer {k}", transfer["_dir"] / f) for k, f in transfer.get("files", {}).items()]
    links += [(f"results: {r.path.name}", r.path / "results.json") for r in folders]
    links += [(f"model: {hub.ref(m) or m.name}", m) for m in model_dirs]
    links += [(f"dataset: {dataset_ref or Path(dataset_dir).name}", Path(dataset_dir))] if dataset_dir else []
    links += [(f"augment run: {d.name}", d) for d in run_dirs]
    links += [(name, Path(target)) for name, target in (extra_links or {}).items()]
    for label, target in filter(None, links):
        where = _where(target, out, hub, dataset_dir, dataset_ref, is_run=target in run_dirs)
        if where:
            md.append(f"- [{label}]({where})")
    text = "\n".join(md) + "\n"
    report_path = out / "report.md"
    atomic_write(report_path, text)
    if html:
        atomic_write(out / "report.html", to_html(text, title))
    summary = {"schema": SCHEMA, "title": title, "demo_model": demo, "base_models": base_models,
               "benchmarks": transfer["columns"], "metric": transfer.get("metric", "accuracy"), "strategies": rows,
               "comparisons": comparisons, "findings": findings(fit, comparisons, demo, jumps), "format_jumps": jumps,
               "comparisons_markdown": comparisons_table(comparisons), "noise": noise_rows(comparisons),
               "noise_markdown": noise_table(comparisons), "strategies_markdown": strategy_table(rows),
               "fits": [_fit_summary(f) for f in (fit or {}).get("fits", [])],
               "figures": sorted(str(p.relative_to(out).as_posix()) for p in out.rglob("*.png")),
               "transfer_markdown": table.read_text(encoding="utf-8") if table.is_file() else "",
               "models": models, "model_tasks": model_tasks,
               "dataset": ({"ref": dataset_ref, "url": Published.url(dataset_ref, "dataset")} if dataset_ref else None),
               "timings": timings}
    write_json_atomic(out / "report.json", summary)
    return report_path


def _where(target: Path, out: Path, hub: Published, dataset_dir, dataset_ref: str | None,
           is_run: bool = False) -> str | None:
    """A link to an artifact: inside OUT relative, else its Hub page (an augment run: its copy in the dataset
    repo); outside OUT and unpublished, a relative local link in a local report and nothing in a published one."""
    target = Path(target)
    if out.resolve() == target.resolve() or out.resolve() in target.resolve().parents:
        return _rel(target, out)
    ref = hub.ref(target)
    if ref:
        return Published.url(ref, "dataset" if dataset_dir and ref == dataset_ref else "model") or None
    if dataset_ref and is_run:
        return Published.url(dataset_ref, "dataset", f"runs/{target.name}")
    return None if hub.active else _rel(target, out)


def _fit_summary(f: dict) -> dict:
    if "error" in f:
        return {"task": f["task"], "series": f["series"], "error": f["error"]}
    m = f["models"][f["selected"]]
    return {"task": f["task"], "series": f["series"], "metric": f.get("metric", "accuracy"), "model": f["selected"],
            "params": m["params"], "ci": m["ci"], "target": f.get("target"), "change": f.get("change"),
            "flags": f["flags"]}


def to_html(markdown_text: str, title: str) -> str:
    from markdown_it import MarkdownIt  # ships with rich (pinned), so no new dependency

    body = MarkdownIt("commonmark").enable("table").render(markdown_text)
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}"
             "img{max-width:100%}blockquote{background:#fff3cd;border-left:5px solid #e0a800;padding:.5em 1em}")
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>{style}</style>" \
           f"</head><body>{body}</body></html>\n"


def render_results_card(report_dir, card_data: Mapping | None = None, **variables):
    """The results repository card (cards/results_card.md) from OUT/report.json, through augmath.cards.render."""
    from augmath.cards import render_card

    out = Path(report_dir)
    summary = _load_json(out / "report.json", "written by augmath.analysis.report.write_report")
    data = {"license": "apache-2.0", "tags": ["augmath", "math", "evaluation", "mugglemath"],
            "pretty_name": summary["title"], **(card_data or {})}
    return render_card("results", "results_card", data, report=summary, demo_banner=DEMO_BANNER, **variables)
