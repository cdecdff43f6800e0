"""Where an experiment's artifacts go on the Hub, fixed before anything runs, so every card can name the others.

    hub_repos("augmath", "augmath-demo", "augmath-demo")   {org, dataset: ORG/DATASET, results: ORG/NAME-results}
    model_repo("augmath", "augmath-demo", "train-SmolLM2-135M-Instruct-gsm8k-numbers-8")
    published_names(...)                                   local folder -> what it is on the Hub (for the report)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

TINY_LABEL = "augmath.tiny random Llama"  # a base model made here, which no Hub repo holds


def hub_repos(org: str, experiment: str, dataset: str) -> dict[str, str]:
    """The org, the dataset repo and the results repo of an experiment."""
    return {"org": org, "dataset": f"{org}/{dataset}", "results": f"{org}/{experiment}-results"}


def model_repo(org: str, experiment: str, train_stage: str) -> str:
    """The Hub repo of a train stage's model. Stage labels may hold characters a repo name may not (`+` of a
    mixture or a round selection: `train-tiny-gsm8k-original+gsm8k-4`); each run of them becomes one `-`."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{experiment}-{train_stage.removeprefix('train-')}")
    return f"{org}/{name}"


def published_names(dataset_dir: Path, dataset_ref: str, models: Mapping[Path, str],
                    bases: Mapping[Path, str]) -> dict[Path, str]:
    """What each local folder is on the Hub (the dataset at its version tag, each trained model's repo, each base
    model's source), so a report and its card name nothing by a local path. `bases` maps a base model's folder to
    its stage kind: `embedded` (the GGUF's source model) or `tiny` (made here)."""
    from augmath.models import EMBEDDED_SOURCE

    return {dataset_dir: dataset_ref, **models,
            **{folder: EMBEDDED_SOURCE if kind == "embedded" else TINY_LABEL for folder, kind in bases.items()}}
