"""Benchmark loaders: every benchmark item becomes one canonical `Record`.

    load("gsm8k", "test")            -> 1,319 records, ids gsm8k/test/0 ... gsm8k/test/1318
    load("math", "test")             -> 5,000 records, ids math/test/precalculus/807 ...
    load("math500")                  -> the 500 MATH-500 test items (Lightman et al.)
    load("svamp") / load("asdiv") / load("mawps")

Where the files come from, in order: `data_dir` (a folder holding the files named in FILES; docs/data.md),
$AUGMATH_DATA_DIR, else the public Hub datasets through `datasets` (openai/gsm8k, ...). `data_dir="packaged"` reads the <=200-row
GSM8K / MATH / SVAMP samples shipped inside the package (MIT), so the demo runs on a fresh offline machine.
ASDiv (CC BY-NC) and MAWPS (licence unstated) are never shipped.
Full files have their row counts asserted; a bad file fails naming the file, line and field.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from augmath.grading import last_boxed
from augmath.io import DataError, read_json, read_jsonl, require
from augmath.options import POSITIVE

PACKAGED = "packaged"
PACKAGED_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Record:
    id: str
    source: str
    split: str
    question: str
    solution: str | None
    answer: str
    meta: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# (name, split) -> (relative file, expected rows in the full file)
FILES: dict[tuple[str, str], tuple[str, int]] = {
    ("gsm8k", "train"): ("gsm8k/train.jsonl.gz", 7473),
    ("gsm8k", "test"): ("gsm8k/test.jsonl", 1319),
    ("math", "train"): ("math/train.jsonl.gz", 7500),
    ("math", "test"): ("math/test.jsonl.gz", 5000),
    ("math500", "test"): ("math/math500_test.jsonl", 500),
    ("svamp", "test"): ("svamp/SVAMP.json", 1000),
    ("asdiv", "test"): ("asdiv/asdiv.jsonl", 2305),
    ("mawps", "test"): ("mawps/test.jsonl", 2065),
}
# What every `--data-dir` option says, in words a wheel user can act on (the layout is FILES, nothing else).
DATA_DIR_HELP = ("benchmark files: a folder holding any of " + ", ".join(rel for rel, _ in FILES.values())
                 + " (formats: docs/data.md), or 'packaged' (the small samples inside augmath); "
                 "default $AUGMATH_DATA_DIR, else the public Hub datasets")
SPLITS = {name: sorted({s for (n, s) in FILES if n == name}) for (name, _) in FILES}
# Every evaluation set that generated data is decontaminated against and that models are scored on.
EVAL_SETS: list[tuple[str, str]] = [
    ("gsm8k", "test"), ("math", "test"), ("math500", "test"), ("svamp", "test"), ("asdiv", "test"), ("mawps", "test")
]
# The public Hub copies used when no local folder is given: (repo id, config, splits to concatenate).
HUB: dict[tuple[str, str], tuple[str, str | None, list[str]]] = {
    ("gsm8k", "train"): ("openai/gsm8k", "main", ["train"]),
    ("gsm8k", "test"): ("openai/gsm8k", "main", ["test"]),
    ("math", "train"): ("EleutherAI/hendrycks_math", None, ["train"]),
    ("math", "test"): ("EleutherAI/hendrycks_math", None, ["test"]),
    ("math500", "test"): ("HuggingFaceH4/MATH-500", None, ["test"]),
    ("svamp", "test"): ("ChilleD/SVAMP", None, ["train", "test"]),
    ("asdiv", "test"): ("EleutherAI/asdiv", None, ["validation"]),
}
MATH_SUBJECTS = ["algebra", "counting_and_probability", "geometry", "intermediate_algebra",
                 "number_theory", "prealgebra", "precalculus"]


def canonical_number(value: float | int | str) -> str:
    """51.0 -> '51', 0.5 -> '0.5', '1,450,000' -> '1450000'."""
    if isinstance(value, str):
        value = value.replace(",", "").strip()
        try:
            value = float(value)
        except ValueError:
            return value
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def gsm8k_gold(answer_text: str) -> str | None:
    if "####" not in answer_text:
        return None
    return answer_text.rsplit("####", 1)[1].strip().replace(",", "")


# --- one parser per file format: raw row -> Record (raises DataError naming where + field) ---

def _gsm8k(row: dict, split: str, index: int, where: str) -> Record:
    question, solution = require(row, "question", where), require(row, "answer", where)
    gold = gsm8k_gold(solution)
    if gold is None:
        raise DataError(f"{where}: field 'answer' has no '#### N' final answer")
    return Record(f"gsm8k/{split}/{index}", "gsm8k", split, question, solution, gold, {"index": index})


def _math(row: dict, split: str, index: int, where: str, source: str = "math") -> Record:
    problem, solution = require(row, "problem", where), require(row, "solution", where)
    uid = row.get("unique_id") or f"{split}/{_subject_dir(row.get('type', 'unknown'))}/{index}.json"
    gold = row.get("answer") if source == "math500" else None
    gold = gold if gold is not None else last_boxed(solution)
    if gold is None:
        raise DataError(f"{where}: field 'solution' has no \\boxed{{}} answer")
    _, subject, stem = uid.split("/")
    level = row.get("level")
    meta = {"unique_id": uid, "subject": subject, "level": int(level) if isinstance(level, int) else
            (int(level.split()[-1]) if isinstance(level, str) and level.split()[-1].isdigit() else None)}
    return Record(f"{source}/{split}/{subject}/{stem.removesuffix('.json')}", source, split, problem, solution,
                  str(gold), meta)


def _subject_dir(type_name: str) -> str:
    return type_name.lower().replace(" & ", "_and_").replace(" ", "_")


def _svamp(row: dict, split: str, index: int, where: str) -> Record:
    body, question = require(row, "Body", where), require(row, "Question", where)
    answer = require(row, "Answer", where, (int, float))
    text = body.strip() + ("" if body.strip().endswith((".", "?", "!")) else ".") + " " + question.strip()
    return Record(f"svamp/{split}/{require(row, 'ID', where)}", "svamp", split, text, row.get("Equation"),
                  canonical_number(answer), {"type": row.get("Type"), "equation": row.get("Equation")})


def _asdiv(row: dict, split: str, index: int, where: str) -> Record:
    body, question = require(row, "Body", where), require(row, "Question", where)
    answer = require(row, "Answer", where)
    gold = answer.split(" (")[0].strip()  # "9 (apples)" -> "9"; the unit goes to meta
    return Record(f"asdiv/{split}/{require(row, 'ID', where)}", "asdiv", split, f"{body.strip()} {question.strip()}",
                  row.get("Formula"), canonical_number(gold),
                  {"answer_raw": answer, "solution_type": row.get("Solution-Type"), "grade": row.get("Grade")})


def _mawps(row: dict, split: str, index: int, where: str) -> Record:
    text, target = require(row, "input", where), require(row, "target", where, (int, float))
    idx = row.get("idx", index)
    return Record(f"mawps/{split}/{idx}", "mawps", split, text.strip(), None, canonical_number(target),
                  {"type": row.get("type")})


PARSERS: dict[str, Callable[..., Record]] = {
    "gsm8k": _gsm8k, "math": _math, "math500": lambda *a: _math(*a, source="math500"),
    "svamp": _svamp, "asdiv": _asdiv, "mawps": _mawps,
}


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path | str | None:
    """Explicit argument, then $AUGMATH_DATA_DIR, else None (meaning: the Hub)."""
    chosen = data_dir if data_dir is not None else os.environ.get("AUGMATH_DATA_DIR") or None
    if chosen is None or chosen == PACKAGED:
        return chosen
    path = Path(chosen).expanduser()
    if not path.is_dir():
        where = "--data-dir" if data_dir else "AUGMATH_DATA_DIR"
        if path.exists():  # a file: "does not exist" would send the user looking for the wrong problem
            raise DataError(f"data dir {path} is a file, not a folder (from {where}); expected a folder laid out "
                            "like the benchmark data (gsm8k/, math/, ...), or 'packaged'")
        raise FileNotFoundError(f"data dir {path} does not exist (from {where})")
    return path


def _read_rows(path: Path) -> list[tuple[dict, str]]:
    if path.name.endswith(".json"):
        items = read_json(path, list, "a JSON array of items")
        return [(row, f"{path}: item {i}") for i, row in enumerate(items)]
    return [(row, f"{path}:{i}") for i, row in enumerate(read_jsonl(path), start=1)]


def _load_local(name: str, split: str, root: Path, packaged: bool) -> list[Record]:
    rel, expected = FILES[(name, split)]
    path = (PACKAGED_DIR / f"{name}_{split}_sample.jsonl") if packaged else root / rel
    if not path.exists():
        if packaged:  # named inside the package, not by this machine's install path (it reaches run reports)
            raise FileNotFoundError(f"no packaged sample of {name}/{split} (augmath/data/{path.name})")
        raise FileNotFoundError(f"no file for {name}/{split}: {path}")
    rows = _read_rows(path)
    if not packaged and len(rows) != expected:
        raise DataError(f"{path}: expected {expected} rows for {name}/{split}, found {len(rows)}")
    parse = PARSERS[name]
    records = []
    for i, (row, where) in enumerate(rows):
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected an object")
        index = row.get("index", i) if packaged else i
        records.append(parse(row, split, index, where))
    if name in ("math", "math500"):
        ids = _math500_ids(root, packaged)
        for r in records:
            r.meta["math500"] = name == "math500" or (ids is not None and r.meta["unique_id"] in ids)
    return records


def _math500_ids(root: Path, packaged: bool) -> set[str] | None:
    if packaged:
        return {row["unique_id"] for row in read_jsonl(PACKAGED_DIR / "math500_test_sample.jsonl")}
    path = root / "math/math500_ids.txt"
    return set(path.read_text().split()) if path.exists() else None


def _load_hub(name: str, split: str) -> list[Record]:
    if (name, split) not in HUB:
        raise FileNotFoundError(f"{name} has no canonical Hub copy; pass --data-dir or set AUGMATH_DATA_DIR")
    import datasets

    repo, config, hub_splits = HUB[(name, split)]
    configs = MATH_SUBJECTS if repo == "EleutherAI/hendrycks_math" else [config]
    rows = []
    for cfg in configs:
        for s in hub_splits:
            ds = datasets.load_dataset(repo, cfg, split=s)
            rows.extend(dict(r) for r in ds)
    # Map the Hub copies' field names onto the local formats (same parsers, same ids).
    renames = {"asdiv": {"body": "Body", "question": "Question", "answer": "Answer", "formula": "Formula"}}
    rows = [{renames.get(name, {}).get(k, k): v for k, v in r.items()} for r in rows]
    records = [PARSERS[name](r, split, i, f"hf://{repo}/{split}[{i}]") for i, r in enumerate(rows)]
    expected = FILES[(name, split)][1]
    if len(records) != expected:
        raise DataError(f"hf://{repo}: expected {expected} rows for {name}/{split}, found {len(records)}")
    return records


def load(name: str, split: str | None = None, data_dir: str | os.PathLike | None = None,
         limit: int | None = None) -> list[Record]:
    if name not in SPLITS:
        raise ValueError(f"unknown benchmark {name!r}; valid: {', '.join(SPLITS)}")
    split = split or ("test" if "test" in SPLITS[name] else SPLITS[name][0])
    if split not in SPLITS[name]:
        raise ValueError(f"{name} has no split {split!r}; valid: {', '.join(SPLITS[name])}")
    root = resolve_data_dir(data_dir)
    if root is None:
        records = _load_hub(name, split)
    else:
        records = _load_local(name, split, root if root != PACKAGED else PACKAGED_DIR, root == PACKAGED)
    return records[:limit] if limit is not None else records


def available(data_dir=None) -> list[tuple[str, str]]:
    """The (name, split) pairs that can be loaded from `data_dir` without the network."""
    root = resolve_data_dir(data_dir)
    if root is None:
        return list(FILES)
    if root == PACKAGED:
        return [k for k in FILES if (PACKAGED_DIR / f"{k[0]}_{k[1]}_sample.jsonl").exists()]
    return [k for k, (rel, _) in FILES.items() if (Path(root) / rel).exists()]


# --- `augmath data`: inspect or export records ---

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", choices=sorted(SPLITS), help="benchmark")
    p.add_argument("--split", default=None)
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    p.add_argument("--limit", type=POSITIVE, default=None)
    p.add_argument("--out", default=None, help="write canonical records as JSONL here (default: print a summary)")


def run(args: argparse.Namespace) -> int:
    from augmath.io import write_jsonl_atomic

    records = load(args.name, args.split, args.data_dir, args.limit)
    if args.out:
        n = write_jsonl_atomic(args.out, (r.to_dict() for r in records))
        print(f"wrote {n} records to {args.out}")
    else:
        print(f"{args.name}/{records[0].split if records else args.split}: {len(records)} records")
        for r in records[:3]:
            print(json.dumps({"id": r.id, "answer": r.answer, "question": r.question[:100]}, ensure_ascii=False))
    return 0
