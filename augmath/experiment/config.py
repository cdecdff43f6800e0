"""The experiment YAML, typed: `ExperimentConfig` and its sections, checked before anything starts and then held.

Every key of `augmath experiment CONFIG.yaml` is declared once, as a dataclass field with a type: the top level is
`ExperimentConfig`, each section (dataset, train, eval, ...) one of the dataclasses below, and an `augment:` entry
is derived from `augmath augment`'s own arguments (every flag of the command is a key, with its type and choices),
so a key added to a dataclass or to the augment command is checked without a hand-kept list. The one typed-YAML
checker (augmath.typed_yaml, shared with the training recipe) returns every problem at once, one line each naming
the key path (`augment[1].limit: expected an integer, got str 'ten'`); `check_meaning` adds what types cannot
say. The planner then reads the sections by attribute (`cfg.eval.max_samples`, `cfg.push.dry_run`).
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from augmath.experiment.train_runs import TrainRun, train_runs
from augmath.io import DataError, read_yaml
from augmath.typed_yaml import build, check, conforms

MISSING = dataclasses.MISSING


@dataclass
class GeneratorRole:
    base_url: str | list[str] | None = None  # a list: several endpoints of one model (augmath.engine.pool)
    model: str | None = None


@dataclass
class GeneratorSection:
    base_url: str | list[str] | None = None  # endpoint(s) for both roles; none = the embedded server
    model: str | None = None
    query: GeneratorRole | None = None  # who writes the queries, overriding the above
    response: GeneratorRole | None = None  # who samples the reasoning paths


@dataclass
class DatasetSection:
    name: str | None = None  # default: the experiment's name
    version: str = "0.1.0"
    seed: int = 0
    paths_per_query: int | None = None  # `augmath build --paths-per-query K`: at most K paths per query
    path: str | None = None  # a folder `augmath build` wrote beforehand: no augment/build stage (augmath/experiment/prebuilt.py)


@dataclass
class TrainSection:
    recipe: str | None = None  # a packaged recipe's name or a YAML file
    overrides: dict[str, Any] = field(default_factory=dict)  # recipe keys for every run
    runs: list[TrainRun] = field(default_factory=list)  # augmath/experiment/train_runs.py: config or mixture, amounts, ...
    # training seeds: every (config, N) is trained once per seed (`augmath train --seed S`, stage label suffix -sS),
    # so the analysis can tell training-seed noise from evaluation-item noise. None = one run at the recipe's seed
    # with the stage argv (and keys) of a config written before seeds existed.
    seeds: list[int] | None = None


@dataclass
class EvalSection:
    tasks: list[str] = field(default_factory=lambda: ["gsm8k", "math500"])
    max_samples: int | dict[str, int] | None = None  # N for every task, or {task: N} (likelihood tasks: long MATH)
    include_base: bool = True
    args: list[str | int | float] = field(default_factory=list)  # extra `augmath eval` arguments
    profiles: list[Literal["lenient", "paper"]] = field(default_factory=lambda: ["lenient"])  # the first feeds the fit


@dataclass
class FitSection:
    target_acc: float | None = None
    target_bpb: float | None = None


@dataclass
class PushSection:
    org: str = "augmath"
    dry_run: bool = True
    dtype: str | None = None  # of the uploaded model weights (`augmath push --dtype`); None = as trained
    skip: bool = False  # no push stages at all: the experiment ends with its report (a timed study)


# augment flags the experiment sets itself (the endpoints from `generator:`, the data folder from `data_dir:`)
SET_BY_EXPERIMENT = ("help", "out", "base_url", "query_base_url", "response_base_url", "data_dir")
SPELLED_OUT = ("strategies",)  # optional for `augmath augment`, required in an experiment's augment entry


def augment_entry() -> type:
    """The dataclass of one `augment:` entry, made from `augmath augment`'s arguments (plus `name`, the run's
    label): a flag taking a value is a key of its type, a store_true flag a boolean, choices kept."""
    from augmath.augment.run import add_arguments

    parser = argparse.ArgumentParser(add_help=False)
    add_arguments(parser)
    fields: list[tuple] = [("name", str | None, field(default=None))]
    for action in parser._actions:
        if action.dest in SET_BY_EXPERIMENT:
            continue
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            hint = bool
        elif action.dest == "strategies":
            hint = list[str]  # a YAML list, joined with commas for the command line
        else:
            kind = getattr(action.type, "base", action.type)  # augmath.options' range types say int / float
            hint = kind if kind in (int, float) else str
        required = action.required or action.dest in SPELLED_OUT
        fields.append((action.dest, hint if required else hint | None,
                       field(default=MISSING if required else None,
                             metadata={"choices": action.choices} if action.choices else {})))
    return dataclasses.make_dataclass("AugmentEntry", fields, kw_only=True)


class ConfigError(DataError):
    """Every problem of an experiment config, one line each (`str()` joins them; augmath.cli prints each)."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class ExperimentConfig:
    """The YAML's top level; the sections are the dataclasses above, held as such by the planner."""

    name: str
    workdir: str
    description: str | None = None  # shown under the report's title: what the study is and is not
    data_dir: str | None = None
    # base_url / model for both roles, and optionally query: {base_url, model} / response: {base_url, model}
    # overriding them per role (augmath.augment.endpoints); no URL at all = the embedded server
    generator: GeneratorSection = field(default_factory=GeneratorSection)
    augment: list[Any] = field(default_factory=list, metadata={"schema": lambda: list[augment_entry()]})
    dataset: DatasetSection = field(default_factory=DatasetSection)
    base_models: list[str] = field(default_factory=lambda: ["embedded"])
    train: TrainSection = field(default_factory=TrainSection)
    eval: EvalSection = field(default_factory=EvalSection)
    fit: FitSection = field(default_factory=FitSection)
    push: PushSection = field(default_factory=PushSection)

    @classmethod
    def from_yaml(cls, path: str | Path, folders: bool = True) -> "ExperimentConfig":
        """Read and check the whole file; every problem at once, one line each naming the key (ConfigError).
        folders=False leaves out the folders that must exist only to run it (`--plan` shows them as notes)."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"experiment config {path} not found")
        try:
            raw = read_yaml(path)
        except DataError as e:  # broken YAML, not UTF-8
            raise ConfigError([str(e)]) from None
        raw = {} if raw is None else raw
        problems = check(cls, raw) + (check_meaning(raw) if isinstance(raw, dict) else [])
        problems += check_folders(raw) if folders and isinstance(raw, dict) else []
        if problems:
            raise ConfigError([f"{path}: {p}" for p in problems])
        cfg = build(cls, raw)
        if not Path(cfg.workdir).is_absolute():  # relative to the config file's project, not the caller's cwd
            cfg.workdir = str((Path.cwd() / cfg.workdir).resolve())
        return cfg

    def role(self, role: str) -> GeneratorRole:
        """The query or response generator's own endpoint and model (empty where the section sets none)."""
        return getattr(self.generator, role) or GeneratorRole()


def check_meaning(raw: dict) -> list[str]:
    """What types cannot say: strategies that exist and apply to their source, distinct run names, a recipe that
    resolves and accepts the overrides, evaluation tasks that exist, augment runs or a prebuilt dataset. Parts
    whose types are wrong are skipped here (augmath.typed_yaml.check has named them already)."""
    from augmath.augment.strategies import get
    from augmath.evalsets import EVAL_TASKS

    problems = []
    entries = raw.get("augment") if isinstance(raw.get("augment"), list) else []
    dataset = raw.get("dataset") if isinstance(raw.get("dataset"), dict) else {}
    if dataset.get("path") is not None:  # the data was built beforehand: nothing here may pretend to build it
        problems += [f"dataset.{key}: was set when the folder at dataset.path was built; leave it out"
                     for key in ("seed", "paths_per_query") if key in dataset]
        if raw.get("augment"):
            problems.append("augment: a prebuilt dataset (dataset.path) is read as it is; leave augment out")
    elif not raw.get("augment"):
        problems.append("augment: needs at least one entry (source, strategies), or dataset.path")
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        if not (isinstance(entry, dict) and _typed(entry.get("source"), str)
                and _typed(entry.get("strategies"), list[str]) and _typed(entry.get("name"), str | None)):
            continue
        label = entry.get("name") or entry["source"]
        if label in seen:
            problems.append(f"augment[{i}] and augment[{seen[label]}] are both named {label!r}; give one a "
                            "distinct 'name'")
        seen.setdefault(label, i)
        try:
            unfit = [s.name for s in get(entry["strategies"]) if not s.applies(entry["source"])]
        except ValueError as e:
            problems.append(f"augment[{i}].strategies: {e}")
            continue
        if unfit:
            problems.append(f"augment[{i}].strategies: {', '.join(unfit)} do(es) not apply to {entry['source']}")
    if isinstance(raw.get("train"), dict):
        problems += _check_training(raw["train"])
    if isinstance(raw.get("eval"), dict) and raw["eval"].get("profiles") == []:
        problems.append("eval.profiles: needs at least one profile (lenient / paper)")
    ev = raw.get("eval") if isinstance(raw.get("eval"), dict) else {}
    if "paper" in (ev.get("profiles") or []) and "--max-new-tokens" in [str(a) for a in ev.get("args") or []]:
        # `augmath eval` refuses the pair (the paper profile fixes the generation size): say so before any stage runs
        problems.append("eval.args: --max-new-tokens cannot apply to the 'paper' profile in eval.profiles "
                        "(it fixes 256 new tokens for word problems); drop it or the profile")
    tasks = (raw.get("eval") or {}).get("tasks") if isinstance(raw.get("eval"), dict) else None
    unknown = [t for t in tasks if t not in EVAL_TASKS] if _typed(tasks, list[str]) else []
    if unknown:
        problems.append(f"eval.tasks: unknown task(s) {', '.join(unknown)}; valid: {', '.join(EVAL_TASKS)}")
    samples = ev.get("max_samples")
    if isinstance(samples, dict) and _typed(tasks, list[str]):
        stray = [t for t in samples if t not in tasks]
        if stray:
            problems.append(f"eval.max_samples: {', '.join(map(str, stray))} not in eval.tasks ({', '.join(tasks)})")
    dtype = raw["push"].get("dtype") if isinstance(raw.get("push"), dict) else None
    if isinstance(dtype, str):
        from augmath.publish.staging import DTYPES

        if dtype not in DTYPES:
            problems.append(f"push.dtype: {dtype!r} is not one of {', '.join(DTYPES)}")
    return problems


def check_folders(raw: dict) -> list[str]:
    """The folders the config names that must exist before it runs (`--plan` shows these as notes instead):
    the benchmark data folder and a prebuilt dataset. Parts whose types are wrong are skipped."""
    from augmath.experiment.prebuilt import folder_problems

    problems = []
    data_dir = raw.get("data_dir")
    if isinstance(data_dir, str) and data_dir != "packaged" and not Path(data_dir).expanduser().is_dir():
        problems.append(f"data_dir: {data_dir} is not a folder (give a folder of benchmark files, "
                        "gsm8k/train.jsonl.gz, gsm8k/test.jsonl, ... as docs/data.md lays out, or 'packaged')")
    dataset = raw.get("dataset") if isinstance(raw.get("dataset"), dict) else {}
    if isinstance(dataset.get("path"), str):
        problems += folder_problems(dataset["path"], dataset.get("name"), dataset.get("version"))
    return problems


def _typed(value: Any, hint: Any) -> bool:
    return conforms(value, hint)


def _check_seeds(train: dict) -> list[str]:
    """train.seeds and each run's own seeds: non-empty, >= 0, distinct, and not also set as a recipe override."""
    runs = [r for r in train.get("runs") or [] if isinstance(r, dict)] if isinstance(train.get("runs"), list) else []
    problems = []
    for where, seeds in [("train.seeds", train.get("seeds"))] + [(f"train.runs[{i}].seeds", r.get("seeds"))
                                                                 for i, r in enumerate(runs)]:
        if not _typed(seeds, list[int]):
            continue  # absent, or a type problem check() has named
        if not seeds:
            problems.append(f"{where}: needs at least one seed (or leave it out for one run at the recipe's seed)")
        if any(s < 0 for s in seeds):
            problems.append(f"{where}: seeds must be >= 0, got {seeds}")
        if len(set(seeds)) != len(seeds):
            problems.append(f"{where}: {seeds} repeats a seed (each would be the same train stage)")
    seeded = train.get("seeds") is not None
    any_seeds = seeded or any(r.get("seeds") is not None for r in runs)
    overridden = [where for where, o, own in [("train.overrides", train.get("overrides"), any_seeds)]
                  + [(f"train.runs[{i}].overrides", r.get("overrides"), seeded or r.get("seeds") is not None)
                     for i, r in enumerate(runs)] if own and isinstance(o, dict) and "seed" in o]
    problems += [f"{where}.seed: the seeds key sets the seed of every run; leave seed out of the overrides"
                 for where in overridden]
    return problems


def _check_training(train: dict) -> list[str]:
    from augmath.training.config import RecipeError, load_recipe, resolve_file

    runs = [r for r in train.get("runs") or [] if isinstance(r, dict)] if isinstance(train.get("runs"), list) else []
    problems = _check_seeds(train)
    if _typed(train.get("runs"), list[TrainRun] | None):  # what types cannot say: amounts > 0, distinct stages, ...
        try:
            train_runs([build(TrainRun, r) for r in train.get("runs") or []])
        except ValueError as e:
            problems.append(str(e))
    recipe = train.get("recipe")
    if runs and not recipe:
        return problems + ["train.recipe: required when train.runs is given"]
    if not isinstance(recipe, str):
        return problems
    try:
        recipe = resolve_file("recipes", recipe)
    except RecipeError as e:
        return problems + [f"train.recipe: {e}"]
    # What the experiment sets itself gets a placeholder; the overrides are checked as `augmath train` would.
    placed = {"model_name_or_path": "base", "dataset": "dataset", "output_dir": "out", "num_samples": 1}
    shared = train.get("overrides") if isinstance(train.get("overrides"), dict) else {}
    checks = [("train.overrides", shared)] + [(f"train.runs[{i}].overrides", {**shared, **run["overrides"]})
                                              for i, run in enumerate(runs) if isinstance(run.get("overrides"), dict)]
    for where, overrides in checks:
        try:
            load_recipe(recipe, {**placed, **overrides})
        except RecipeError as e:
            problems.append(f"{where}: {str(e).replace('command line: ', '')}")
            break  # the shared overrides' problem would repeat for every run
    return problems
