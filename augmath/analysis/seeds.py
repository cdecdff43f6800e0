"""Results folders of one training configuration trained with several seeds, read as one (seeds, items) table.

`augmath experiment` with `train.seeds: [0, 1, 2]` trains every (config, N) once per seed; each model's
results.json carries its seed in the provenance (`seed`, from the model folder's augmath_train.json recipe). The
analysis treats the folders that differ only in that seed as one configuration: its score is the mean over seeds,
and its intervals resample seeds and items together (augmath.stats.seeded_difference).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Hashable

import numpy as np

from augmath.analysis.results import ResultsFolder
from augmath.io import DataError


def group_runs(folders: list[ResultsFolder], key: Callable[[ResultsFolder], Hashable]) -> dict:
    """key -> the folders of that configuration (its seed runs), in the order given. Two folders of one
    configuration with the same recorded seed are the same run twice: a DataError naming both."""
    groups: dict = defaultdict(list)
    for r in folders:
        k = key(r)
        twin = next((o for o in groups[k] if o.seed is not None and o.seed == r.seed), None)
        if twin is not None:
            raise DataError(f"{r.path} and {twin.path} are the same configuration with the same seed {r.seed}; "
                            "pass only one")
        groups[k].append(r)
    return dict(groups)


def common_keys(runs: list[ResultsFolder], task: str) -> list[str]:
    """The item keys every run scored on `task`, in the first run's order."""
    keys = runs[0].values(task)[1]
    shared = set(keys).intersection(*(set(r.values(task)[1]) for r in runs[1:]))
    return [k for k in keys if k in shared]


def seed_table(runs: list[ResultsFolder], task: str, keys: list[str] | None = None) -> np.ndarray:
    """(seeds, items) per-item scores of `task`, items in the order of `keys` (default: common_keys)."""
    keys = common_keys(runs, task) if keys is None else keys
    rows = []
    for r in runs:
        values, own = r.values(task)
        where = {k: i for i, k in enumerate(own)}
        rows.append(values[[where[k] for k in keys]])
    return np.vstack(rows) if rows else np.empty((0, len(keys)))


def seeds_of(runs: list[ResultsFolder]) -> list[int | None]:
    return [r.seed for r in runs]
