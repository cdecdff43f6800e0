"""The experiment YAML's training runs (`train.runs`): which data each train stage gets.

    train:
      runs:
        - {config: gsm8k, amounts: [4, 8, 16]}                     # D_N: the first N queries with their paths
        - {config: gsm8k, amounts: [8, 16], paths_per_query: [1, 2]}   # queries x responses grid
        - {config: gsm8k, rounds: [[0], [0, 1]]}                   # by round: D1, then D1+D2 (amounts: all)
        - {config: gsm8k-reverse, amounts: [8], seeds: [0, 1, 2]}  # 3 training seeds (stages ...-8-s0, -s1, -s2)
        - mixture:                                                 # original whole + gsm8k D_N
            - {config: gsm8k-original, amount: all}
            - {config: gsm8k}                                      # no amount: takes each N of `amounts`
          amounts: [4, 8, 16]

Amounts count **queries** (a query brings all its kept paths, at most `paths_per_query`), or `all` (the default).
`rounds` is one list of round numbers (from 0, as `augmath augment --first-round` numbers them) or a list of
such lists, one stage each; `paths_per_query` is a number or a list, one stage each. In a mixture they apply to
the parts that take the amounts (a part may set its own). Because the built dataset is stored query by query in
a seeded order, D_4 ⊂ D_8 ⊂ D_16 for every part, and a mixture's fixed parts are the same rows at every N: the
nesting holds across N. Each combination gives one train stage, `train-<base>-<label>-<N>`, whose recipe
overrides set every data key (`augmath.training.config.DATA_KEYS`: `num_queries`, `paths_per_query`, `rounds`,
`dataset_parts`, ...). The dataclasses below are the experiment schema's too (augmath/experiment/config.py): the
YAML is checked against them and built into them, and `train_runs` checks what types cannot say.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from augmath.training.config import DATA_KEYS

ALL = "all"


@dataclass(frozen=True)
class DataPart:
    """One part of a mixture: `amount` queries of `config` (None: each N of the run's amounts; "all")."""

    config: str
    amount: int | Literal["all"] | None = None
    paths_per_query: int | None = None
    rounds: list[int] | None = None

    def recipe(self, n: int | str, paths_per_query: int | None, rounds: list[int] | None) -> dict[str, Any]:
        """The part's `dataset_parts` entry; the run's N, K and rounds reach the parts without their own amount."""
        varying = self.amount is None
        amount = n if varying else self.amount
        out = {"config": self.config, "num_queries": None if amount == ALL else amount,
               "paths_per_query": self.paths_per_query or (paths_per_query if varying else None),
               "rounds": self.rounds or (rounds if varying else None)}
        return {k: v for k, v in out.items() if v is not None}


@dataclass
class TrainRun:
    """One `train.runs` entry: a config or a mixture, the amounts, optional paths per query and rounds."""

    config: str | None = None
    mixture: list[DataPart] | None = None
    amounts: list[int | Literal["all"]] = field(default_factory=lambda: [ALL])
    paths_per_query: int | list[int] | None = None  # a list: one stage per value (the grid)
    rounds: list[int] | list[list[int]] | None = None  # a list of lists: one stage per selection
    overrides: dict[str, Any] = field(default_factory=dict)  # recipe keys for this run only
    name: str | None = None  # label in stage names (default: the config, or the mixture's configs joined by +)
    seeds: list[int] | None = None  # this run's training seeds, instead of train.seeds (e.g. 3 seeds at one N only)

    def validate(self, where: str) -> None:
        """ValueError naming the entry for what the types do not say (amounts > 0, a config or a mixture, ...)."""
        if (self.config is None) == (self.mixture is None):
            raise ValueError(f"{where} needs either 'config' or 'mixture', not both")
        if not self.amounts or any(a != ALL and a <= 0 for a in self.amounts):
            raise ValueError(f"{where}.amounts: needs query counts > 0 or '{ALL}', got {self.amounts!r}")
        ks = self.paths_per_query
        if any(k <= 0 for k in (ks if isinstance(ks, list) else [ks or 1])) or ks == []:
            raise ValueError(f"{where}.paths_per_query: must be > 0, got {ks!r}")
        rounds = self.rounds
        for selection in (rounds if rounds and isinstance(rounds[0], list) else [[0] if rounds is None else rounds]):
            if not selection or any(r < 0 for r in selection):
                raise ValueError(f"{where}.rounds: round numbers are >= 0 (a list, or a list of lists), got {rounds!r}")
        parts = self.mixture
        if parts is not None:
            if len(parts) < 2 or len({p.config for p in parts}) < len(parts):
                raise ValueError(f"{where}.mixture: needs two or more parts with distinct configs")
            if all(p.amount is not None for p in parts):
                raise ValueError(f"{where}.mixture: every part has its own 'amount', so 'amounts' would change "
                                 "nothing; leave 'amount' out of the part that should take each N")
            if any(p.amount not in (None, ALL) and p.amount <= 0 for p in parts):
                raise ValueError(f"{where}.mixture: a part's 'amount' must be > 0 or '{ALL}'")

    def label(self, rounds: list[int] | None) -> str:
        base = self.name or (("+".join(p.config for p in self.mixture)) if self.mixture else self.config)
        return base + (f"-r{'+'.join(map(str, rounds))}" if rounds else "")

    def jobs(self) -> list[tuple[str, list[str]]]:
        """(stage label, `augmath train` data arguments) per round selection, paths-per-query value and amount."""
        ks = self.paths_per_query if isinstance(self.paths_per_query, list) else [self.paths_per_query]
        selections = (self.rounds if self.rounds and isinstance(self.rounds[0], list) else [self.rounds])
        out = []
        for rounds in selections:
            for k in ks:
                for n in self.amounts:
                    label = f"{self.label(rounds)}{f'-k{k}' if k else ''}-{n}"
                    data = {key: None for key in DATA_KEYS}  # every data key set: the recipe's own do not leak in
                    if self.mixture:
                        data["dataset_parts"] = [p.recipe(n, k, rounds) for p in self.mixture]
                    else:
                        data.update(dataset_config=self.config, num_queries=None if n == ALL else n,
                                    paths_per_query=k, rounds=rounds)
                    argv = [x for key, value in data.items()
                            for x in (f"--{key}", json.dumps(value, sort_keys=True, separators=(",", ":")))]
                    out.append((label, argv))
        return out


def train_runs(runs: list[TrainRun], where: str = "") -> list[TrainRun]:
    """The `train.runs` of an experiment, checked; ValueError naming the entry if one makes no sense or two make
    the same train stage."""
    prefix = f"{where}: " if where else ""
    for i, run in enumerate(runs):
        run.validate(f"{prefix}train.runs[{i}]")
    seen: dict[str, int] = {}
    for i, run in enumerate(runs):
        for label, _ in run.jobs():
            if label in seen:
                raise ValueError(f"{prefix}train.runs[{i}] and train.runs[{seen[label]}] both make the train stage "
                                 f"'{label}'; give one a distinct 'name'")
            seen[label] = i
    return runs
