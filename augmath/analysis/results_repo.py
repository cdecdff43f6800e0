"""An experiment's results repository: the report, every evaluation beside it, one results.json index, the card.

    write_results_repo(out, {eval stage: results folder}, primary=[...], fit_dir=..., transfer_dir=..., ...)

The folder is what `augmath push` sends as the results repo: each evaluation's results.json and per-sample details
under results/<eval stage>/, the report (figures first) over the primary profile's evaluations, results.json
naming the published dataset and models (which also marks the folder as a results folder for `augmath push`),
and README.md, the results card.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Mapping

from augmath.io import write_json_atomic


def write_results_repo(out: Path, evals: Mapping[str, Path], *, primary: list[str], experiment: str, repo_id: str,
                       fit_dir: Path, transfer_dir: Path, run_dirs: list[Path], dataset_dir: Path,
                       model_dirs: list[Path], published: Mapping[Path, str], models: Mapping[str, str],
                       demo: bool | None, timings: list[dict], description: str | None) -> Path:
    """Write the results repository into `out` (see the module docstring); returns `out`.

    evals: every evaluation stage's results folder (all profiles), copied in; primary: the stages whose scores
    feed the report (the first profile's); published: local folder -> Hub id, so nothing is named by a path;
    models: eval stage -> the Hub repo of the model it scored."""
    from augmath.analysis import render_results_card, write_report
    from augmath.cards import save_card

    index = {}
    for name, folder in evals.items():
        shutil.copytree(folder, out / "results" / name, dirs_exist_ok=True)
        index[name] = json.loads((folder / "results.json").read_text())
    write_report(out, [out / "results" / e for e in primary], fit_dir=fit_dir, transfer_dir=transfer_dir,
                 run_dirs=run_dirs, dataset_dir=dataset_dir, model_dirs=model_dirs,
                 title=f"augmath experiment: {experiment}", html=True, published=published, demo=demo,
                 timings=timings, description=description)
    write_json_atomic(out / "results.json", {
        "experiment": experiment, "published": {"dataset": published[dataset_dir], "models": dict(models)},
        "results": index})
    from augmath.cards.model import record_summary

    records = {name: record_summary(r.get("reproduction")) for name, r in index.items() if r.get("reproduction")}
    save_card(render_results_card(out, repo_id=repo_id, records=records), out)
    return out
