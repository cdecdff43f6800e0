"""The one typed-YAML checker (augmath.typed_yaml), as a regression table: a document in, the problems out, and the
typed object built from a clean one. The experiment config and the training recipe both go through it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pytest
import yaml

from augmath.typed_yaml import build, check, describe, given


@dataclass
class Part:
    config: str
    amount: int | Literal["all"] | None = None


@dataclass
class Section:
    tasks: list[str] = field(default_factory=lambda: ["gsm8k"])
    samples: int | dict[str, int] | None = None
    lr: float = 2e-5
    style: str = field(default="plain", metadata={"choices": ("plain", "paper")})


@dataclass
class Doc:
    name: str
    section: Section = field(default_factory=Section)
    parts: list[Part] = field(default_factory=list)
    extra: Any = None


CASES = [  # (YAML, expected problems)
    ("name: a", []),
    ("nam: a", ["nam: unknown key (did you mean 'name'?); valid: name, section, parts, extra",
                "name: missing required key"]),
    ("name: 3", ["name: expected a string, got int 3"]),
    ("name: a\nsection: [1]", ["section: expected a mapping (key: value), got list [1]"]),
    ("name: a\nsection: {taks: [x]}", ["section.taks: unknown key (did you mean 'tasks'?); valid: tasks, samples, lr, "
                                       "style"]),
    ("name: a\nsection: {tasks: [x, 2]}", ["section.tasks[1]: expected a string, got int 2"]),
    ("name: a\nsection: {samples: {gsm8k: ten}}", ["section.samples.gsm8k: expected an integer, got str 'ten'"]),
    ("name: a\nsection: {samples: 1.5}", ["section.samples: expected an integer or a mapping (or null), got float 1.5"]),
    ("name: a\nsection: {style: fancy}", ["section.style: 'fancy' is not one of plain, paper"]),
    ("name: a\nsection: {lr: 2e-5}", []),  # YAML 1.1 reads 2e-5 (no dot) as text; a float field takes it
    ("name: a\nsection: {lr: fast}", ["section.lr: expected a number, got str 'fast'"]),
    ("name: a\nsection: {lr: true}", ["section.lr: expected a number, got bool True"]),
    ("name: a\nparts: [{config: x, amount: some}]", ["parts[0].amount: expected an integer or all (or null), got str "
                                                     "'some'"]),
    ("name: a\nparts: [{amount: 3}]", ["parts[0].config: missing required key"]),
    ("name: a\nextra: {anything: [1, {b: 2}]}", []),
    ("- a\n- b", ["expected a mapping of key: value, got list ['a', 'b']"]),
]


@pytest.mark.parametrize("text,problems", CASES)
def test_every_problem_named_by_its_key_path(text, problems):
    assert check(Doc, yaml.safe_load(text)) == problems


def test_problems_carry_the_place_they_come_from():
    assert check(Doc, {"nam": "a", "name": "a"}, where="cfg.yaml") == [
        "cfg.yaml: nam: unknown key (did you mean 'name'?); valid: name, section, parts, extra"]


def test_a_clean_document_is_built_typed_and_remembers_what_it_spelled_out():
    raw = yaml.safe_load("parts: [{config: x}, {amount: all, config: y}]\nname: a\nsection: {lr: 2e-5, samples: 4}")
    doc = build(Doc, raw)
    assert isinstance(doc.section, Section) and doc.section.lr == 2e-5 and doc.section.samples == 4
    assert doc.section.tasks == ["gsm8k"] and doc.section.style == "plain"  # defaults where the file is silent
    assert [type(p) for p in doc.parts] == [Part, Part] and doc.parts[1].amount == "all"
    assert given(doc) == ("parts", "name", "section") and given(doc.parts[1]) == ("amount", "config")
    assert given(doc.section) == ("lr", "samples")


def test_numbers_stay_as_written():
    """An integer in a float field stays an integer: the experiment turns values back into stage command lines,
    whose keys must read as the file did (`1`, not `1.0`)."""
    assert build(Section, {"lr": 1}).lr == 1 and isinstance(build(Section, {"lr": 1}).lr, int)


@pytest.mark.parametrize("hint,words", [
    (int | Literal["all"], "an integer or all"),
    (list[int | Literal["all"]], "a list (each item: an integer or all)"),
    (float | None, "a number (or null)"),
    (dict[str, int], "a mapping"),
    (bool, "true/false"),
])
def test_types_in_words(hint, words):
    assert describe(hint) == words
