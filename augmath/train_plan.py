"""The experiment YAML's training runs (`train.runs`): which data each train stage gets.

    train:
      runs:
        - {config: gsm8k, amounts: [4, 8, 16]}                     # D_N: the first N queries with their paths
        - {config: gsm8k, amounts: [8, 16], paths_per_query: [1, 2]}   # queries x responses grid
        - {config: gsm8k, amounts: [all], rounds: [1]}             # by round: D1 ...
        - {config: gsm8k, amounts: [all], rounds: [1, 2]}          # ... and D1+D2
        - parts:                                                   # a mixture: original whole + gsm8k D_N
            - {config: gsm8k-original, amount: all}
            - {config: gsm8k}                                      # no amount: takes each N of `amounts`
          amounts: [4, 8, 16]

Amounts count **queries** (a query brings all its kept paths, at most `paths_per_query`), or `all`. Because the
built dataset is stored query by query in a seeded order, D_4 ⊂ D_8 ⊂ D_16 for every part, and a mixture's
fixed parts are the same rows at every N: the nesting holds across N. Each (amount, paths_per_query) gives one
train stage, named `train-<base>-<label>-<N>`, whose recipe overrides say exactly that subset (`num_queries`,
`paths_per_query`, `rounds`, or `dataset_parts`; see training/config.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

ALL = "all"
# the recipe keys that choose the training rows (training/config.py)
DATA_KEYS = ("dataset_config", "dataset_mixture", "dataset_parts", "num_samples", "num_queries", "paths_per_query",
             "rounds")


@dataclass(frozen=True)
class DataPart:
    """One part of a mixture: `amount` queries of `config` (None: each N of the run's amounts; "all")."""

    config: str
    amount: int | str | None = None
    paths_per_query: int | None = None
    rounds: list[int] | None = None

    def recipe(self, n: int | str) -> dict[str, Any]:
        amount = n if self.amount is None else self.amount
        out = {"config": self.config, "num_queries": None if amount == ALL else amount,
               "paths_per_query": self.paths_per_query, "rounds": self.rounds}
        return {k: v for k, v in out.items() if v is not None}


@dataclass
class TrainRun:
    """One `train.runs` entry: a config (or mixture parts), the amounts, optional paths per query and rounds."""

    amounts: list[int | str]
    config: str | None = None
    parts: list[DataPart] | None = None
    paths_per_query: int | list[int] | None = None  # a list: one stage per value (the grid)
    rounds: list[int] | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    name: str | None = None  # label in stage names (default: the config, or the parts' configs joined by +)

    @classmethod
    def from_dict(cls, raw: Any, where: str) -> "TrainRun":
        if not isinstance(raw, dict):
            raise ValueError(f"{where} must be a mapping, got {raw!r}")
        _known(raw, cls, where)
        if (raw.get("config") is None) == (raw.get("parts") is None):
            raise ValueError(f"{where} needs either 'config' or 'parts' (a mixture), not both")
        amounts = raw.get("amounts")
        if not isinstance(amounts, list) or not amounts or not all(_amount(a) for a in amounts):
            raise ValueError(f"{where} needs a non-empty 'amounts' list of query counts > 0 or '{ALL}', "
                             f"got {amounts!r}")
        ks = raw.get("paths_per_query")
        if ks is not None and not all(_count(k) for k in (ks if isinstance(ks, list) else [ks])):
            raise ValueError(f"{where}: 'paths_per_query' must be an integer > 0 or a list of them, got {ks!r}")
        _rounds(raw.get("rounds"), where)
        parts = None
        if raw.get("parts") is not None:
            if raw.get("paths_per_query") is not None or raw.get("rounds") is not None:
                raise ValueError(f"{where}: with 'parts', give paths_per_query / rounds inside each part")
            parts = [_part(p, f"{where}.parts[{i}]") for i, p in enumerate(raw["parts"] or [])]
            if len(parts) < 2 or len({p.config for p in parts}) < len(parts):
                raise ValueError(f"{where}: 'parts' needs two or more parts with distinct configs")
            if all(p.amount is not None for p in parts):
                raise ValueError(f"{where}: every part has its own 'amount', so 'amounts' would change nothing; "
                                 "leave 'amount' out of the part that should take each N")
        return cls(**{**raw, "parts": parts})

    def label(self) -> str:
        if self.name:
            return self.name
        if self.parts:
            return "+".join(p.config for p in self.parts)
        return self.config + (f"-r{'+'.join(map(str, self.rounds))}" if self.rounds else "")

    def jobs(self) -> list[tuple[str, list[str]]]:
        """(stage label, `augmath train` data arguments) per amount and paths-per-query value."""
        ks = self.paths_per_query if isinstance(self.paths_per_query, list) else [self.paths_per_query]
        out = []
        for k in ks:
            for n in self.amounts:
                label = f"{self.label()}{f'-k{k}' if len(ks) > 1 or k else ''}-{n}"
                data = {key: None for key in DATA_KEYS}  # every data key set: the recipe's own do not leak in
                if self.parts:
                    data["dataset_parts"] = [p.recipe(n) for p in self.parts]
                else:
                    data.update(dataset_config=self.config, num_queries=None if n == ALL else n,
                                paths_per_query=k, rounds=self.rounds)
                argv = [x for key, value in data.items()
                        for x in (f"--{key}", json.dumps(value, sort_keys=True, separators=(",", ":")))]
                out.append((label, argv))
        return out


def train_runs(train: dict, where: str) -> list[TrainRun]:
    """The validated `train.runs` of an experiment YAML; stage labels must come out distinct."""
    runs = [TrainRun.from_dict(r, f"{where}: train.runs[{i}]") for i, r in enumerate(train.get("runs") or [])]
    seen: dict[str, int] = {}
    for i, run in enumerate(runs):
        for label, _ in run.jobs():
            if label in seen:
                raise ValueError(f"{where}: train.runs[{i}] and train.runs[{seen[label]}] both make the train stage "
                                 f"'{label}'; give one a distinct 'name'")
            seen[label] = i
    return runs


def _known(raw: dict, cls, where: str) -> None:
    valid = [f.name for f in fields(cls)]
    unknown = sorted(set(raw) - set(valid))
    if unknown:
        raise ValueError(f"{where} has unknown key(s) {unknown}; valid: {', '.join(valid)}")


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _amount(value: Any) -> bool:
    return value == ALL or _count(value)


def _rounds(value: Any, where: str) -> None:
    if value is not None and (not isinstance(value, list) or not value or not all(_count(r) for r in value)):
        raise ValueError(f"{where}: 'rounds' must be a non-empty list of round numbers >= 1, got {value!r}")


def _part(raw: Any, where: str) -> DataPart:
    if not isinstance(raw, dict) or not isinstance(raw.get("config"), str):
        raise ValueError(f"{where} must be a mapping with a 'config', got {raw!r}")
    _known(raw, DataPart, where)
    if raw.get("amount") is not None and not _amount(raw["amount"]):
        raise ValueError(f"{where}: 'amount' must be a query count > 0 or '{ALL}', got {raw['amount']!r}")
    if raw.get("paths_per_query") is not None and not _count(raw["paths_per_query"]):
        raise ValueError(f"{where}: 'paths_per_query' must be an integer > 0, got {raw['paths_per_query']!r}")
    _rounds(raw.get("rounds"), where)
    return DataPart(**raw)
