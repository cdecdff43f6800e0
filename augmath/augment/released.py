"""Published math-augmentation data formats, read by `augmath import` and written by `augmath export`.

- `mugglemath`: `{"query": Q, "response": R}`. Source: OFA-Sys/gsm8k-ScRel, whose `train.py` reads such records
  (JSON Lines or a JSON array); its `data/train_use.jsonl` is GSM8K train in that form, and
  `data/MuggleMATH/readme.md` names AugGSM8K / AugMATH (queries by qwen-max-1201, responses by DeepSeekMath-RL).
  The released files themselves were not reachable here.
- `metamathqa`: `{"query", "response", "type", "original_question"}`. Source: meta-math/MetaMath and its
  MetaMathQA dataset: `type` is `GSM_` or `MATH_` + `AnsAug`, `Rephrased`, `SV` or `FOBAR`; responses end with
  `The answer is: A`.
- `alpaca`: `{"instruction", "input", "output"}`. Source: Stanford Alpaca's `alpaca_data.json`; the MuggleMath
  training code's other accepted layout.

A file is JSON Lines (one record a line) or, if its name ends in `.json`, one JSON array of records (how
MetaMathQA-395K.json and alpaca_data.json are published). Every record must be a JSON object whose listed fields
are strings (`input` may be empty); otherwise the error names file:line (or file: item N) and the field.

Alpaca's question is `instruction`, plus `input` on the next line when it is not empty: the inverse of the
MuggleMath training code, which splits a multi-line query into its first line (instruction) and the rest (input).
MetaMathQA's `type` gives the strategy: AnsAug -> `paths` (new answers to the original question), Rephrased ->
`rephrase`, SV -> `selfverify`, FOBAR -> `reverse`; its prefix gives the source (GSM -> gsm8k, MATH -> math).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from augmath.io import DataError, read_json, read_jsonl_numbered

FIELDS: dict[str, tuple[str, ...]] = {
    "mugglemath": ("query", "response"),
    "metamathqa": ("query", "response", "type", "original_question"),
    "alpaca": ("instruction", "input", "output"),
}
EXPORT_FORMATS = ("mugglemath", "alpaca")  # a metamathqa `type` exists only for its four strategies
METAMATH_STRATEGIES = {"AnsAug": "paths", "Rephrased": "rephrase", "SV": "selfverify", "FOBAR": "reverse"}
METAMATH_SOURCES = {"GSM": "gsm8k", "MATH": "math"}


@dataclass(frozen=True)
class ReleasedRow:
    where: str  # file:line (or file: item N) for error messages and the dropped rows
    question: str
    response: str
    strategy: str | None = None  # from the record (metamathqa's type), else the importer's --strategy
    source: str | None = None  # from the record (metamathqa's type), else the importer's --source
    original_question: str | None = None


def _records(path: Path) -> Iterator[tuple[str, object]]:
    if path.suffix == ".json":
        for i, item in enumerate(read_json(path, list, "a JSON array of records"), start=1):
            yield f"{path}: item {i}", item
    else:
        yield from read_jsonl_numbered(path)


def read_released(path: str | Path, fmt: str) -> Iterator[ReleasedRow]:
    """The file's records as ReleasedRows; DataError naming file:line and field on the first bad one."""
    if fmt not in FIELDS:
        raise ValueError(f"unknown format {fmt!r}; valid: {', '.join(FIELDS)}")
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    for where, rec in _records(path):
        if not isinstance(rec, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(rec).__name__}")
        for name in FIELDS[fmt]:
            if name not in rec or rec[name] is None:
                raise DataError(f"{where}: missing field '{name}' (a {fmt} record has {', '.join(FIELDS[fmt])})")
            if not isinstance(rec[name], str):
                raise DataError(f"{where}: field '{name}' should be a string, got {type(rec[name]).__name__}")
            if name != "input" and not rec[name].strip():
                raise DataError(f"{where}: field '{name}' is empty")
        if fmt == "mugglemath":
            yield ReleasedRow(where, rec["query"], rec["response"])
        elif fmt == "alpaca":
            extra = rec["input"].strip()
            yield ReleasedRow(where, rec["instruction"] + (f"\n{extra}" if extra else ""), rec["output"])
        else:
            prefix, _, kind = rec["type"].partition("_")
            if prefix not in METAMATH_SOURCES or kind not in METAMATH_STRATEGIES:
                valid = [f"{p}_{k}" for p in METAMATH_SOURCES for k in METAMATH_STRATEGIES]
                raise DataError(f"{where}: field 'type' is {rec['type']!r}; valid: {', '.join(valid)}")
            yield ReleasedRow(where, rec["query"], rec["response"], METAMATH_STRATEGIES[kind],
                              METAMATH_SOURCES[prefix], rec["original_question"])


def to_released(question: str, response: str, fmt: str) -> dict:
    """One record of `fmt` (mugglemath or alpaca) for a dataset row."""
    if fmt == "mugglemath":
        return {"query": question, "response": response}
    if fmt == "alpaca":
        return {"instruction": question, "input": "", "output": response}
    raise ValueError(f"cannot export to {fmt!r}; valid: {', '.join(EXPORT_FORMATS)}")
