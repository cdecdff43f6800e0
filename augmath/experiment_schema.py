"""The experiment YAML's schema, and the check that runs before anything starts.

Every key of `augmath experiment CONFIG.yaml` is declared once, as a dataclass field with a type: the top level is
`augmath.experiment.ExperimentConfig`, each section (dataset, train, eval, ...) one of the dataclasses below, named
in that field's metadata, and an `augment:` entry is derived from `augmath augment`'s own arguments (every flag
of the command is a key, with its type and choices), so a key added to a dataclass or to the augment command is
checked without a hand-kept list. `check_config` walks a parsed YAML against them and returns every problem,
one line each, naming the key path (`augment[1].limit: expected an integer, got 'ten'`): unknown keys (with the
closest valid one), missing required keys, wrong types and bad choices, nested entries included.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from augmath.io import DataError
from augmath.train_plan import TrainRun, train_runs

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
    path: str | None = None  # a folder `augmath build` wrote beforehand: no augment/build stage (augmath/prebuilt.py)


@dataclass
class TrainSection:
    recipe: str | None = None  # a packaged recipe's name or a YAML file
    overrides: dict[str, Any] = field(default_factory=dict)  # recipe keys for every run
    runs: list[TrainRun] = field(default_factory=list)  # augmath/train_plan.py: config or mixture, amounts, ...


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
            hint = action.type if action.type in (int, float) else str
        required = action.required or action.dest in SPELLED_OUT
        fields.append((action.dest, hint if required else hint | None,
                       field(default=MISSING if required else None,
                             metadata={"choices": action.choices} if action.choices else {})))
    return dataclasses.make_dataclass("AugmentEntry", fields, kw_only=True)


def check_config(cls: type, raw: Any) -> list[str]:
    """Every problem of a parsed YAML document against the dataclass `cls`, one line each."""
    if not isinstance(raw, dict):
        return [f"the file should be a mapping of key: value, got {_show(raw)}"]
    return _check_mapping(cls, raw, "")


def _check_mapping(cls: type, raw: dict, where: str) -> list[str]:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    problems = []
    for key in raw:
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(f"{_join(where, key)}: unknown key{hint}; valid: {', '.join(fields)}")
    for name, f in fields.items():
        here = _join(where, name)
        if name not in raw:
            if f.default is MISSING and f.default_factory is MISSING:
                problems.append(f"{here}: missing required key")
            continue
        schema = f.metadata.get("schema")  # a section dataclass, or a function making the type (augment entries)
        if isinstance(schema, types.FunctionType):
            schema = schema()
        value_problems = _check_value(raw[name], schema or hints[name], here)
        choices = f.metadata.get("choices")
        if not value_problems and choices and raw[name] is not None and raw[name] not in choices:
            value_problems = [f"{here}: {raw[name]!r} is not one of {', '.join(map(str, choices))}"]
        problems += value_problems
    return problems


def _check_value(value: Any, hint: Any, where: str) -> list[str]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return []
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return []
        mapping = next((a for a in args if dataclasses.is_dataclass(a)), None)
        if mapping is not None and isinstance(value, dict):  # name the wrong key inside, not the whole mapping
            return _check_mapping(mapping, value, where)
        lists = [a for a in args if typing.get_origin(a) is list]
        if len(lists) == 1 and isinstance(value, list):  # likewise the wrong item of the one list it may be
            return _check_value(value, lists[0], where)
        dicts = [a for a in args if typing.get_origin(a) is dict]
        if len(dicts) == 1 and isinstance(value, dict):  # and the wrong value of the one mapping it may be
            return _check_value(value, dicts[0], where)
        for option in (a for a in args if a is not type(None)):
            if not _check_value(value, option, where):
                return []
        return [f"{where}: expected {_describe(hint)}, got {_show(value)}"]
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            return [f"{where}: expected a mapping (key: value), got {_show(value)}"]
        return _check_mapping(hint, value, where)
    if origin is Literal:
        return [] if value in args else [f"{where}: {value!r} is not one of {', '.join(map(str, args))}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: expected {_describe(hint)}, got {_show(value)}"]
        return [p for i, item in enumerate(value) for p in _check_value(item, args[0], f"{where}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: expected {_describe(hint)}, got {_show(value)}"]
        return [p for k, item in value.items() for p in _check_value(item, args[1], _join(where, k))]
    ok = {bool: lambda v: isinstance(v, bool), str: lambda v: isinstance(v, str),
          int: lambda v: isinstance(v, int) and not isinstance(v, bool),
          float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)}.get(hint)
    if ok is None or ok(value):
        return []
    return [f"{where}: expected {_describe(hint)}, got {_show(value)}"]


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        named = [_describe(a) for a in args if a is not type(None)]
        return " or ".join(named) + (" (or null)" if type(None) in args else "")
    if origin is list:
        return f"a list of {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s"
    if origin is dict or dataclasses.is_dataclass(hint):
        return "a mapping"
    if origin is Literal:
        return " / ".join(map(str, args))
    return {bool: "true/false", str: "a string", int: "an integer", float: "a number"}.get(hint, str(hint))


def _show(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}" if value is not None else "null"


def _join(where: str, key: Any) -> str:
    return f"{where}.{key}" if where else str(key)


class ConfigError(DataError):
    """Every problem of an experiment config, one line each (`str()` joins them)."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def check_meaning(raw: dict) -> list[str]:
    """What types cannot say: strategies that exist and apply to their source, distinct run names, a recipe that
    resolves and accepts the overrides, evaluation tasks that exist, augment runs or a prebuilt dataset. Parts
    whose types are wrong are skipped here (check_config has named them already)."""
    from augmath.augment.strategies import get
    from augmath.benchmarks import EVAL_TASKS

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
        from augmath.staging import DTYPES

        if dtype not in DTYPES:
            problems.append(f"push.dtype: {dtype!r} is not one of {', '.join(DTYPES)}")
    return problems


def check_folders(raw: dict) -> list[str]:
    """The folders the config names that must exist before it runs (`--plan` shows these as notes instead):
    the benchmark data folder and a prebuilt dataset. Parts whose types are wrong are skipped."""
    from augmath.prebuilt import folder_problems

    problems = []
    data_dir = raw.get("data_dir")
    if isinstance(data_dir, str) and data_dir != "packaged" and not Path(data_dir).expanduser().is_dir():
        problems.append(f"data_dir: {data_dir} is not a folder (give a folder laid out like ../shared/data, "
                        "or 'packaged')")
    dataset = raw.get("dataset") if isinstance(raw.get("dataset"), dict) else {}
    if isinstance(dataset.get("path"), str):
        problems += folder_problems(dataset["path"], dataset.get("name"), dataset.get("version"))
    return problems


def _typed(value: Any, hint: Any) -> bool:
    return not _check_value(value, hint, "")


def _check_training(train: dict) -> list[str]:
    from augmath.training.config import RecipeError, load_recipe, resolve_file

    runs = [r for r in train.get("runs") or [] if isinstance(r, dict)] if isinstance(train.get("runs"), list) else []
    problems = []
    if _typed(train.get("runs"), list[TrainRun] | None):  # what types cannot say: amounts > 0, distinct stages, ...
        try:
            train_runs(train)
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
