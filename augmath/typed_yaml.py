"""The one typed-YAML checker: a parsed YAML document against a dataclass, every problem at once.

It returns every problem at once, then the typed object the caller holds.

    problems = check(SFTConfig, raw, where="recipe.yaml")   # [] or one line per problem, naming the key path
    cfg = build(SFTConfig, raw)                              # nested dataclasses, YAML 1.1 floats read as floats
    given(cfg)                                               # the keys the YAML spelled out, in its order

Used by the experiment config (augmath.experiment.config) and the training recipe (augmath.training.config), so
both say the same thing the same way: unknown keys with the closest valid name, missing required keys, wrong
types, values outside a field's `choices` (field metadata), nested sections and list items named by path
(`augment[1].limit: expected an integer, got str 'ten'`). A field's metadata may also carry `schema`: the
dataclass (or a function returning the type) that its mapping is checked and built against.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any, Literal

MISSING = dataclasses.MISSING
_GIVEN = "_yaml_keys"  # set on each built dataclass instance: the keys its mapping had, in order


def check(cls: type, raw: Any, where: str = "") -> list[str]:
    """Every problem of `raw` (a parsed YAML value) against the dataclass `cls`, one line each, prefixed `where: `."""
    if not isinstance(raw, dict):
        return [_prefix(where, f"expected a mapping of key: value, got {_show(raw)}")]
    return [_prefix(where, p) for p in _check_mapping(cls, raw, "")]


def build(cls: type, raw: dict) -> Any:
    """The dataclass `cls` made from a mapping `check` found no problem in: nested sections, list items and
    union members built as their dataclasses, YAML 1.1 float text (`2e-5`) as the float it means. Numbers stay
    as written otherwise (an integer in a float field stays an integer), so a value turned back into a command
    line (the experiment's stage argv, which its stage keys hash) reads as the file did."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    values = {key: _build(value, _hint(fields[key], hints[key])) for key, value in raw.items()}
    obj = cls(**values)
    object.__setattr__(obj, _GIVEN, tuple(raw))
    return obj


def given(obj: Any) -> tuple[str, ...]:
    """The keys the YAML mapping of a built object spelled out, in the file's order (defaults left out)."""
    return getattr(obj, _GIVEN, ())


def conforms(value: Any, hint: Any) -> bool:
    """Whether `value` has the type `hint` (a check on one part of a document, e.g. before a meaning check)."""
    return not _check_value(value, hint, "")


def describe(hint: Any) -> str:
    """A type in words, as the problems name it: `an integer or all`, `a list (each item: a string)`."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        named = [describe(a) for a in args if a is not type(None)]
        return " or ".join(named) + (" (or null)" if type(None) in args else "")
    if origin is list:
        return f"a list (each item: {describe(args[0])})"
    if origin is dict or dataclasses.is_dataclass(hint):
        return "a mapping"
    if origin is Literal:
        return " / ".join(map(str, args))
    return {bool: "true/false", str: "a string", int: "an integer", float: "a number"}.get(hint, str(hint))


# --------------------------------------------------------------------------------------------------- checking

def _hint(f: dataclasses.Field, hint: Any) -> Any:
    schema = f.metadata.get("schema")
    if isinstance(schema, types.FunctionType):
        schema = schema()
    return schema or hint


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
        value_problems = _check_value(raw[name], _hint(f, hints[name]), here)
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
        return [f"{where}: expected {describe(hint)}, got {_show(value)}"]
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            return [f"{where}: expected a mapping (key: value), got {_show(value)}"]
        return _check_mapping(hint, value, where)
    if origin is Literal:
        return [] if value in args else [f"{where}: {value!r} is not one of {', '.join(map(str, args))}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: expected {describe(hint)}, got {_show(value)}"]
        return [p for i, item in enumerate(value) for p in _check_value(item, args[0], f"{where}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: expected {describe(hint)}, got {_show(value)}"]
        return [p for k, item in value.items() for p in _check_value(item, args[1], _join(where, k))]
    if hint is float and _yaml11_float(value) is not None:
        return []
    ok = {bool: lambda v: isinstance(v, bool), str: lambda v: isinstance(v, str),
          int: lambda v: isinstance(v, int) and not isinstance(v, bool),
          float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)}.get(hint)
    if ok is None or ok(value):
        return []
    return [f"{where}: expected {describe(hint)}, got {_show(value)}"]


def _yaml11_float(value: Any) -> float | None:
    """PyYAML reads `2e-5` (no dot: YAML 1.1) as a string; a float field takes it as the number it means."""
    if not isinstance(value, str):
        return None
    try:
        return float(value)
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------------- building

def _build(value: Any, hint: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if value is None or hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        for option in (a for a in args if a is not type(None)):
            if not _check_value(value, option, ""):
                return _build(value, option)
        return value
    if dataclasses.is_dataclass(hint):
        return build(hint, value)
    if origin is list:
        return [_build(item, args[0]) for item in value]
    if origin is dict:
        return {k: _build(item, args[1]) for k, item in value.items()}
    if hint is float and isinstance(value, str):
        return _yaml11_float(value)
    return value


def _show(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}" if value is not None else "null"


def _join(where: str, key: Any) -> str:
    return f"{where}.{key}" if where else str(key)


def _prefix(where: str, problem: str) -> str:
    return f"{where}: {problem}" if where else problem
