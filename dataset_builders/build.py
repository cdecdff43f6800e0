"""`augmath build`: augment run folders -> one Hub-ready dataset folder.

    DATASET_DIR/README.md                                  card; its YAML `configs:` is what `load_dataset` reads
    DATASET_DIR/manifest.json                              version, seed, configs, sha256/bytes/rows of every file
    DATASET_DIR/data/<config>/train-00000-of-00001.parquet one file per config
    DATASET_DIR/runs/<run>/{run,report}.json               provenance of each input run

Configs: `<source>-<strategy>` (AugGSM8K per strategy), `<source>` (all its strategies), `<source>-original`
(the untouched train seeds that were augmented) and `default` (every augmented row).

Row order is the scaling order, by query: every config's queries are sorted by sha256(f"{seed}/{query_id}"),
each query's kept paths together by path_index, so its first N queries (with all their paths) are the subset
D_N and D_1 ⊂ D_2 ⊂ ... by construction (`subsets.select`); adding rows in a later version never reorders old
ones. A row's dataset id and query_id start with its run folder's name, so runs made by different generators or
settings join without collisions. `--paths-per-query K` keeps each query's first K paths only.
One pass reads the rows in that global order and streams each into its three configs' parquet writers, so
memory holds a ~36-byte index entry per row plus one row group per config, never the rows themselves.
The parquet files come from datasets' own ParquetWriter (what `push_to_hub` uses: content-defined chunking,
page index) with fixed row groups and no timestamps, so equal inputs give byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import datasets
import pyarrow as pa
from datasets.arrow_writer import ParquetWriter

from augmath.errors import UserError
from augmath.augment import UNLINKED_SEED
from augmath.cards import REPO_ID_RE, dataset_summary, render_dataset_card, save_card
from augmath.dataset_builders.counts import BuildCounts
from augmath.dataset_builders.inputs import DEFAULT, ORIGINAL, ItemIndex, RunInput, dataset_ids, scan_runs, sort_key
from augmath.dataset_builders.subsets import subset_sizes, take_subset
from augmath.io import DataError, atomic_folder, folder_lock, read_json_object, sha256_file
from augmath.options import POSITIVE
from augmath.redaction import secrets_in_folder

__all__ = ["FEATURES", "BuildError", "ConfigSpec", "build", "take_subset", "subset_sizes", "sort_key", "scan_runs"]

FEATURES = datasets.Features({
    "id": datasets.Value("string"), "query_id": datasets.Value("string"), "seed_id": datasets.Value("string"),
    "source": datasets.Value("string"), "strategy": datasets.Value("string"), "round": datasets.Value("int32"),
    "question": datasets.Value("string"), "response": datasets.Value("string"), "answer": datasets.Value("string"),
    "generator": datasets.Value("string"), "query_generator": datasets.Value("string"),
    "response_generator": datasets.Value("string"), "prompt_hash": datasets.Value("string"),
    "sampling": datasets.Value("string"), "path_index": datasets.Value("int32"),
    "verification": datasets.Value("string"), "verified": datasets.Value("bool"),
    "agreement": datasets.Value("float64"),
})
VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")
ROWS_PER_GROUP = 1000  # row groups of ~1-2 MB of text: small enough for the Hub viewer's random access
DATA_FILE = "data/{config}/train-00000-of-00001.parquet"


class BuildError(UserError, ValueError):
    """Bad arguments or an output that cannot be written; the message says what and where."""


@dataclass(frozen=True)
class ConfigSpec:
    """One dataset config: which rows it holds, where its parquet lives."""

    name: str
    kind: str  # "strategy" | "source" | "original" | "default"
    sources: tuple[str, ...]
    strategies: tuple[str, ...]

    @property
    def path(self) -> str:
        return DATA_FILE.format(config=self.name)

    @property
    def description(self) -> str:
        src, strategies = " + ".join(self.sources), ", ".join(self.strategies)
        return {"strategy": f"{src} seeds evolved by the '{strategies}' strategy",
                "source": f"all {src} strategies ({strategies})",
                "original": f"the untouched {src} train seeds that were augmented",
                "default": f"every augmented row ({src})"}[self.kind]


class ConfigWriter:
    """Streams rows into one config's parquet file in fixed-size row groups."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.rows, self.nbytes, self._buffer = path, 0, 0, []
        self._writer = ParquetWriter(features=FEATURES, path=str(path), writer_batch_size=ROWS_PER_GROUP)

    def add(self, row: dict) -> None:
        self._buffer.append(row)
        if len(self._buffer) == ROWS_PER_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            table = pa.Table.from_pylist(self._buffer, schema=FEATURES.arrow_schema)
            self._writer.write_table(table, writer_batch_size=ROWS_PER_GROUP)
            self.rows, self.nbytes, self._buffer = self.rows + table.num_rows, self.nbytes + table.nbytes, []

    def close(self) -> None:
        self._flush()
        self._writer.finalize()

    def abort(self) -> None:
        """Close the file without finishing it (the build failed; its temp folder is removed)."""
        try:
            self._writer.close()
        except Exception:  # noqa: BLE001 - already failing; the original error is the one to report
            pass


def plan_configs(groups: list[tuple[str, str]]) -> list[ConfigSpec]:
    by_source: dict[str, list[str]] = defaultdict(list)
    for source, strategy in sorted(groups):
        by_source[source].append(strategy)
    specs = [ConfigSpec(DEFAULT, "default", tuple(sorted(by_source)), tuple(sorted({s for _, s in groups})))]
    for source, strategies in sorted(by_source.items()):
        specs.append(ConfigSpec(source, "source", (source,), tuple(strategies)))
        # imported seed rows (strategy `original`) have no config of their own: `<source>-original` holds their seeds
        specs += [ConfigSpec(f"{source}-{s}", "strategy", (source,), (s,)) for s in strategies if s != ORIGINAL]
        specs.append(ConfigSpec(f"{source}-{ORIGINAL}", "original", (source,), ()))
    return specs


def original_rows(source: str, seeds: dict[str, tuple[str, str]], seed: int, data_dir) -> list[dict]:
    """The untouched train records behind the seed ids used by `source`, in the scaling order."""
    from augmath import sources

    if "train" not in sources.SPLITS.get(source, []):
        where = next(w for (s, w) in seeds.values() if s == source)
        raise DataError(f"{where}: source {source!r} has no train split to take the original seeds from "
                        f"(sources with one: {', '.join(n for n, sp in sources.SPLITS.items() if 'train' in sp)})")
    records = {r.id: r for r in sources.load(source, "train", data_dir=data_dir)}
    # imported rows whose seed could not be linked to a train record (augmath import --allow-unlinked) have none
    wanted = [sid for sid, (s, _) in seeds.items() if s == source and not sid.startswith(UNLINKED_SEED)]
    rows = []
    for sid in sorted(wanted, key=lambda i: sort_key(seed, i)):
        if sid not in records:
            raise DataError(f"{seeds[sid][1]}: seed_id {sid!r} is not a {source} train record "
                            f"(loaded {len(records)} from {data_dir or os.environ.get('AUGMATH_DATA_DIR') or 'the Hub'})")
        r = records[sid]
        rows.append({"id": r.id, "query_id": r.id, "seed_id": r.id, "source": source, "strategy": ORIGINAL,
                     "round": None, "question": r.question, "response": r.solution, "answer": r.answer,
                     "generator": None, "query_generator": None, "response_generator": None, "prompt_hash": None,
                     "sampling": None, "path_index": 0, "verification": "gold", "verified": True, "agreement": None})
    return rows


def _write_rows(tmp: Path, runs: list[RunInput], index: ItemIndex, specs: list[ConfigSpec], seed: int,
                seeds: dict, data_dir, counts: BuildCounts, paths_per_query: int | None) -> dict[str, ConfigWriter]:
    writers = {s.name: ConfigWriter(tmp / s.path) for s in specs if s.kind != "original"}
    try:
        _stream_rows(runs, index, writers, counts, paths_per_query)
        for spec in specs:
            if spec.kind == "original":
                writer = writers[spec.name] = ConfigWriter(tmp / spec.path)
                for row in original_rows(spec.sources[0], seeds, seed, data_dir):
                    writer.add(row)
                    counts.queries[spec.name] += 1  # an original row is its own query
        for writer in writers.values():
            writer.close()
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    return writers


def _stream_rows(runs: list[RunInput], index: ItemIndex, writers: dict[str, ConfigWriter], counts: BuildCounts,
                 paths_per_query: int | None) -> None:
    """Every augmented row once, in the global scaling order (query by query), into its three configs."""
    files = [open(r.path / "items.jsonl", "rb") for r in runs]
    try:
        previous, previous_i, rank = None, -1, 0
        for i in index.order():
            key = (index.k1[i], index.k2[i])
            f = files[index.file[i]]
            f.seek(index.offset[i])
            row = json.loads(f.read(index.length[i]))
            first = key != previous
            if not first and index.path[i] == index.path[previous_i]:
                raise DataError(f"query_id {row['query_id']!r} has path_index {row['path_index']} twice, at "
                                f"{_where(runs, index, previous_i)} and {_where(runs, index, i)}; each "
                                "(query_id, path_index) must be unique in a run folder")
            rank = 0 if first else rank + 1
            previous, previous_i = key, i
            if paths_per_query is not None and rank >= paths_per_query:
                counts.capped += 1
                continue
            out = {name: row.get(name) for name in FEATURES}
            out["id"], out["query_id"] = dataset_ids(runs[index.file[i]].ids_as, row)
            source, strategy = index.groups[index.group[i]]
            configs = (DEFAULT, source) + (() if strategy == ORIGINAL else (f"{source}-{strategy}",))
            for name in configs:
                writers[name].add(out)
            counts.add(row, configs, first)
    finally:
        for f in files:
            f.close()


def _where(runs: list[RunInput], index: ItemIndex, i: int) -> str:
    """file:line of index entry i (only for error messages, so counting newlines is fine)."""
    items = runs[index.file[i]].path / "items.jsonl"
    with open(items, "rb") as f:
        line = f.read(index.offset[i]).count(b"\n") + 1
    return f"{items}:{line}"


def _check_replace(out: Path, manifest: dict) -> None:
    """Refuse to clobber a non-dataset folder, or to rewrite an existing version with different content."""
    if not out.exists():
        return
    old_path = out / "manifest.json"
    if not old_path.is_file():
        if not out.is_dir() or any(out.iterdir()):
            raise BuildError(f"{out} exists and is not an augmath dataset folder (no manifest.json); "
                             "refusing to replace it")
        return
    old = read_json_object(old_path)
    if old.get("version") == manifest["version"] and old.get("files") != manifest["files"]:
        changed = sorted(set(old.get("files", {})) ^ set(manifest["files"]) | {
            p for p in manifest["files"] if old.get("files", {}).get(p) not in (None, manifest["files"][p])})
        raise BuildError(f"version {manifest['version']} already exists in {out} with different content "
                         f"({len(changed)} files differ, e.g. {changed[0]}); pass a new --version")


def build(run_dirs: list[str | os.PathLike], out: str | os.PathLike, name: str = "augmath",
          version: str = "1.0.0", seed: int = 0, data_dir: str | os.PathLike | None = None,
          repo_id: str | None = None, paths_per_query: int | None = None, allow_failed_calls: bool = False) -> dict:
    """Build the dataset folder `out` from run folders; returns the manifest. Atomic: all or nothing.
    allow_failed_calls: build from runs whose report counts failed LLM calls (their samples are missing).
    repo_id: the Hub repository it will be pushed to (the card's loading code names it; `augmath push` checks it).
    paths_per_query: keep at most the first K kept paths of each query (default: all)."""
    if not VERSION_RE.match(version):
        raise BuildError(f"--version {version!r} is not X.Y.Z (e.g. 1.0.0)")
    if paths_per_query is not None and paths_per_query < 1:
        raise BuildError(f"--paths-per-query must be >= 1, got {paths_per_query}")
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", name):
        raise BuildError(f"--name {name!r} is not a valid Hub repository name")
    if not run_dirs:
        raise BuildError("no run folders given")
    if repo_id is not None and not REPO_ID_RE.match(repo_id):
        raise BuildError(f"--repo-id {repo_id!r} is not ORG/NAME")
    out = Path(out).resolve()
    runs, index, seeds = scan_runs(run_dirs, seed)
    if not allow_failed_calls:
        refuse_failed_calls(runs)
    specs = plan_configs(index.groups)
    with folder_lock(out, "augmath build"):
        return _write_dataset(out, runs, index, seeds, specs, name, version, seed, data_dir, repo_id,
                              paths_per_query)


def refuse_failed_calls(runs: list[RunInput]) -> None:
    """A run whose endpoint failed (after retries) drops those samples under the same reason as a real "no usable
    completion": built as is, the dataset would count an outage as rejections. Refuse unless asked."""
    failed = [(r, r.report.get("failed_calls") or 0) for r in runs if (r.report.get("failed_calls") or 0) > 0]
    if failed:
        named = ", ".join(f"{r.path / 'report.json'} ({n} failed calls)" for r, n in failed)
        raise BuildError(f"{named}: LLM calls failed after retries, so their samples are missing, not rejected; "
                         "rerun the same `augmath augment` command to retry them, or pass --allow-failed-calls")


def _write_dataset(out: Path, runs: list[RunInput], index: ItemIndex, seeds: dict, specs: list[ConfigSpec],
                   name: str, version: str, seed: int, data_dir, repo_id: str | None,
                   paths_per_query: int | None) -> dict:
    # `.OUT.build-*` (and, for a kill between the swap's two renames, `.OUT.old-*` holding the previous version,
    # put back) are removed by the next build; every file and the parent folder are fsynced around the swap.
    with atomic_folder(out, tag="build", replace="swap", fsync=True) as tmp:
        counts = BuildCounts()
        writers = _write_rows(tmp, runs, index, specs, seed, seeds, data_dir, counts, paths_per_query)
        for run in runs:
            copy_provenance(run, tmp / "runs" / run.name)
        rows = {s.name: writers[s.name].rows for s in specs}
        nbytes = {s.name: writers[s.name].nbytes for s in specs}
        card = render_dataset_card(name=name, version=version, seed=seed, specs=specs, rows=rows, nbytes=nbytes,
                                   sizes={s.name: subset_sizes(counts.queries[s.name]) for s in specs},
                                   features=FEATURES, runs=runs, stats=dict(counts.verification), repo_id=repo_id,
                                   queries=dict(counts.queries), makers=counts.makers_table(),
                                   paths_per_query=paths_per_query)
        save_card(card, tmp)
        files = {p.relative_to(tmp).as_posix(): p for p in sorted(tmp.rglob("*")) if p.is_file()}
        row_of_file = {s.path: rows[s.name] for s in specs}
        manifest = {
            "kind": "dataset", "name": name, "version": version, "seed": seed, "repo_id": repo_id,
            "summary": dataset_summary(rows, runs, dict(counts.verification)),
            "order": "each config's queries sorted by sha256(f'{seed}/{query_id}'), a query's rows by path_index; "
                     "its first N queries are the subset D_N",
            "paths_per_query": paths_per_query, "rows_over_paths_per_query": counts.capped,
            "built_with": {"augmath": _augmath_version(), "datasets": datasets.__version__, "pyarrow": pa.__version__},
            "configs": {s.name: {"kind": s.kind, "file": s.path, "rows": rows[s.name],
                                 "queries": counts.queries[s.name], "sources": list(s.sources),
                                 "strategies": list(s.strategies)} for s in specs},
            "made_by": counts.makers_table(),
            "inputs": [{"run": r.name, "items_sha256": r.items_sha256, "rows": r.rows} for r in runs],
            "files": {rel: {"sha256": sha256_file(p), "bytes": p.stat().st_size, "rows": row_of_file.get(rel)}
                      for rel, p in files.items()},
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        refuse_secrets(tmp)
        _check_replace(out, manifest)
    return manifest


def copy_provenance(run: RunInput, dest: Path) -> None:
    """Copy the run's config and report byte for byte (they say how every row was made)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("run.json", "report.json"):
        shutil.copyfile(run.path / name, dest / name)


def refuse_secrets(folder: Path) -> None:
    """Last line of defence: no text file of the dataset folder may hold a secret (a secret environment value,
    a credential inside a URL such as a run's base_url, a key-shaped string)."""
    for rel, found in secrets_in_folder(folder):
        raise BuildError(f"{rel} contains {' and '.join(found)}; refusing to write a dataset folder that would "
                         "publish a secret (fix the input run folder)")


def _augmath_version() -> str:
    from augmath import __version__

    return __version__


def add_arguments(p: argparse.ArgumentParser) -> None:
    from augmath.sources import DATA_DIR_HELP  # a short, light module: help text only

    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders written by `augmath augment`")
    p.add_argument("--out", required=True, help="dataset folder to write (replaced atomically)")
    p.add_argument("--name", default="augmath", help="dataset name used in the card (default: augmath)")
    p.add_argument("--version", default="1.0.0", help="dataset version X.Y.Z, in card + manifest (default 1.0.0)")
    p.add_argument("--seed", type=int, default=0, help="seed of the scaling order (default 0)")
    p.add_argument("--repo-id", default=None, help="ORG/NAME it will be pushed to: the card's loading code names it")
    p.add_argument("--data-dir", default=None,
                   help=f"the original seeds' {DATA_DIR_HELP}")
    p.add_argument("--paths-per-query", type=POSITIVE, default=None, metavar="K",
                   help="keep at most the first K kept paths (responses) of each query (default: all)")
    p.add_argument("--allow-failed-calls", action="store_true",
                   help="build from runs with failed LLM calls (report.json failed_calls > 0; the card counts them "
                        "apart from rejections); by default such runs are refused")


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    manifest = build(args.runs, args.out, args.name, args.version, args.seed, args.data_dir, args.repo_id,
                     paths_per_query=args.paths_per_query, allow_failed_calls=args.allow_failed_calls)
    # BuildError, DataError, FolderBusy: augmath.cli's one line
    for config, info in manifest["configs"].items():
        print(f"{config:<28} {info['queries']:>9,} queries {info['rows']:>9,} rows  {info['file']}")
    print(f"wrote {args.out} (version {manifest['version']}, seed {manifest['seed']}) "
          f"in {time.perf_counter() - start:.1f} s")
    return 0
