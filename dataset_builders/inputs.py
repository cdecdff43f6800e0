"""Reading finished `augmath augment` run folders for `augmath build`: validation and a compact row index.

A run folder is valid input when it has run.json, report.json and a non-empty items.jsonl whose every line is
a JSON object with the item fields below (docs/augment.md, "Run folder"); any other line is an error naming
file:line and the field. Rows are not kept in memory: the index stores, per row, its 128-bit query sort key, path
index, file, byte offset and length, so the build can re-read rows in any order at ~36 bytes of memory per row.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from augmath.io import DataError, from_json, read_json_object, require, sha256_file
from augmath.input_limits import refuse_constant

# field -> accepted JSON types for an items.jsonl row (None allowed only for agreement)
ITEM_TYPES: dict[str, Any] = {
    "id": str, "query_id": str, "seed_id": str, "source": str, "strategy": str, "round": int, "question": str,
    "response": str, "answer": str, "generator": str, "query_generator": str, "response_generator": str,
    "prompt_hash": str, "sampling": str, "path_index": int, "verification": str, "verified": bool,
    "agreement": (int, float),
}
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")  # no '-': `<source>-<strategy>` must split unambiguously
ORIGINAL, DEFAULT = "original", "default"


@dataclass
class RunInput:
    path: Path
    name: str
    items_sha256: str = ""
    rows: int = 0
    run_json: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)
    ids_as: str = ""  # the run name in its rows' dataset ids: its own, or its shard group's

    def __post_init__(self) -> None:
        self.ids_as = self.ids_as or self.name


class ItemIndex:
    """Compact per-row index: query sort key (128 bits), path index, file number, byte offset, length,
    (source, strategy) group."""

    def __init__(self) -> None:
        self.k1, self.k2, self.offset = array("Q"), array("Q"), array("Q")
        self.file, self.length, self.group, self.path = array("H"), array("I"), array("H"), array("I")
        self.groups: list[tuple[str, str]] = []
        self._group_no: dict[tuple[str, str], int] = {}

    def add(self, key: bytes, path_index: int, file_no: int, offset: int, length: int,
            group: tuple[str, str]) -> None:
        if group not in self._group_no:
            self._group_no[group] = len(self.groups)
            self.groups.append(group)
        self.k1.append(int.from_bytes(key[:8], "big"))
        self.k2.append(int.from_bytes(key[8:16], "big"))
        self.path.append(path_index)
        self.file.append(file_no), self.offset.append(offset), self.length.append(length)
        self.group.append(self._group_no[group])

    def order(self) -> np.ndarray:
        """Queries in their seeded order, each query's rows together by path index: the order of D_N."""
        k1, k2 = np.frombuffer(self.k1, np.uint64), np.frombuffer(self.k2, np.uint64)
        return np.lexsort((np.frombuffer(self.path, np.uint32), k2, k1))


def sort_key(seed: int, query_id: str) -> bytes:
    """The documented scaling order of queries: ascending sha256 of "<seed>/<query_id>" (the dataset's query_id,
    i.e. prefixed with the run folder's name)."""
    return hashlib.sha256(f"{seed}/{query_id}".encode("utf-8")).digest()


def dataset_ids(run: str, row: dict) -> tuple[str, str]:
    """(id, query_id) of a run's row in the dataset: the run folder's name first, so runs made by different
    generators or settings (whose own ids repeat: same seed, strategy, round, path) never collide."""
    query = f"{run}/{row['query_id']}"
    return f"{query}/{row['path_index']}", query


_EXACT_TYPES = {name: ({bool} if t is bool else {int} if t is int else {int, float, type(None)} if name == "agreement"
                       else {str}) for name, t in ITEM_TYPES.items()}
_CHECKED: dict[str, set[str]] = {"name": set(), "sampling": set()}  # values already validated (few distinct)


def validate_item(row: dict, where: str) -> None:
    """Raise DataError naming `where` and the field unless `row` is a valid items.jsonl row."""
    for name, exact in _EXACT_TYPES.items():
        if type(row.get(name)) not in exact:  # fast path; the slow path below says exactly what is wrong
            if name == "agreement" and row.get(name, 0) is None:
                continue
            if name not in row and name in ("query_id", "round", "query_generator", "response_generator"):
                raise DataError(f"{where}: missing field '{name}' (a run folder written before rows carried "
                                "query ids; run the same `augmath augment` command again: it rewrites items.jsonl "
                                "from its request log)")
            value = require(row, name, where, ITEM_TYPES[name])
            raise DataError(f"{where}: field '{name}' should be {ITEM_TYPES[name].__name__ if name != 'agreement' else 'a number'}, "
                            f"got {type(value).__name__}")
    for name in ("id", "query_id", "seed_id", "question", "response"):
        if not row[name].strip():
            raise DataError(f"{where}: field '{name}' is empty")
    if row["round"] < 0:
        raise DataError(f"{where}: field 'round' is {row['round']}; rounds are numbered from 0")
    for name in ("source", "strategy"):
        value = row[name]
        if value not in _CHECKED["name"]:
            # an imported row may be a seed itself (strategy `original`, augmath import); a source may not be named so
            if not NAME_RE.match(value) or value == DEFAULT or (value == ORIGINAL and name == "source"):
                raise DataError(f"{where}: {name} {value!r} is not a valid config name part (lowercase letters, "
                                f"digits and '_', starting with a letter; not '{ORIGINAL}'/'{DEFAULT}'), e.g. 'reverse'")
            _CHECKED["name"].add(value)
    if row["path_index"] < 0:
        raise DataError(f"{where}: field 'path_index' is negative")
    if row["sampling"] not in _CHECKED["sampling"]:
        try:
            json.loads(row["sampling"])
        except json.JSONDecodeError as e:
            raise DataError(f"{where}: field 'sampling' is not a JSON string ({e.msg})") from None
        if len(_CHECKED["sampling"]) < 1000:
            _CHECKED["sampling"].add(row["sampling"])


def check_one_run(run: RunInput) -> None:
    """run.json, items.jsonl, dropped.jsonl and report.json must describe the same run. `augmath augment` writes
    report.json last with the run's key and the sha256 of the files it counts; a folder cut between those writes,
    or assembled from two runs, is refused rather than published under the wrong provenance. (Folders from
    before these fields, or written by other tools, carry neither and are taken as they are.)"""
    key_run, key_report = run.run_json.get("run_key"), run.report.get("run_key")
    if (key_run or key_report) and key_run != key_report:
        raise DataError(f"{run.path}: run.json and report.json describe different runs (run_key {key_run} vs "
                        f"{key_report}); run its `augmath augment` command again to finish it")
    recorded = run.report.get("files") or {}
    for name in ("items.jsonl", "dropped.jsonl"):
        if name not in recorded:
            continue
        actual = run.items_sha256 if name == "items.jsonl" else (
            sha256_file(run.path / name) if (run.path / name).is_file() else None)
        if actual != recorded[name]:
            raise DataError(f"{run.path / name}: does not match report.json (the run was cut while writing its "
                            "outputs, or the file was changed); run its `augmath augment` command again")


def scan_runs(run_dirs: list[str | os.PathLike], seed: int):
    """Validate every run folder and index its rows. Returns (runs, index, seeds)."""
    from augmath.augment.shards import join_shards

    runs, index, seeds = [], ItemIndex(), {}
    # Sorted by folder name so the card and manifest do not depend on the order of the command line.
    for run_dir in sorted(run_dirs, key=lambda p: (Path(p).resolve().name, str(p))):
        path = Path(run_dir)
        if not path.is_dir():
            raise DataError(f"{path}: no such run folder")
        missing = [n for n in ("run.json", "items.jsonl", "report.json") if not (path / n).is_file()]
        if missing:
            raise DataError(f"{path}: not a finished `augmath augment` run folder (missing {', '.join(missing)})")
        run = RunInput(path, path.resolve().name, run_json=read_json_object(path / "run.json"),
                       report=read_json_object(path / "report.json"))
        if any(r.name == run.name for r in runs):
            raise DataError(f"{path}: two input run folders are named {run.name!r}; rename one")
        runs.append(run)
    # the shards of one run build under its name, less the queries duplicated across shards (augment.shards)
    id_names, skip, _ = join_shards(runs)
    for file_no, run in enumerate(runs):
        path, run.ids_as, left_out = run.path, id_names[run.name], skip.get(run.name, set())
        digest, offset, items = hashlib.sha256(), 0, path / "items.jsonl"
        with open(items, "rb") as f:
            for lineno, line in enumerate(f, start=1):
                digest.update(line)
                where = f"{items}:{lineno}"
                if line.strip():
                    try:
                        row = json.loads(line, parse_constant=refuse_constant)
                    except UnicodeDecodeError as e:
                        raise DataError(f"{where}: not UTF-8 (byte {e.start + 1} of the line)") from None
                    except json.JSONDecodeError as e:
                        torn = "; a torn last line: is `augmath augment` still running?" if not line.endswith(b"\n") else ""
                        raise DataError(f"{where}: invalid JSON ({getattr(e, 'msg', e)}){torn}") from None
                    except (ValueError, RecursionError):  # NaN/Infinity, or nested too deep
                        from_json(line.decode("utf-8"), items, lineno)
                    if not isinstance(row, dict):
                        raise DataError(f"{where}: expected a JSON object")
                    validate_item(row, where)
                    if row["query_id"] in left_out:
                        offset += len(line)
                        continue
                    _, query = dataset_ids(run.ids_as, row)
                    index.add(sort_key(seed, query), row["path_index"], file_no, offset, len(line),
                              (row["source"], row["strategy"]))
                    seeds.setdefault(row["seed_id"], (row["source"], where))
                    run.rows += 1
                offset += len(line)
        run.items_sha256 = digest.hexdigest()
        check_one_run(run)
    # A run whose every item was dropped is a real outcome (a small model on MATH); its report.json says why,
    # and the manifest lists it with 0 rows. Only a build with nothing at all to publish is an error.
    if not any(r.rows for r in runs):
        raise DataError("; ".join(f"{r.path / 'items.jsonl'}: no items (an empty run folder)" for r in runs))
    return runs, index, seeds


