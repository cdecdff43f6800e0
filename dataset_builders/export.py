"""`augmath export`: a config of a dataset made here, as MuggleMath or Alpaca JSON Lines for other trainers.

`augmath export DATASET --config C --format mugglemath|alpaca --out FILE.jsonl`: a dataset made here, as the
JSON Lines other trainers read (MuggleMath's and Alpaca's layouts: augmath.augment.released).

    augmath export outputs/augmath --config gsm8k --format mugglemath --out auggsm8k.jsonl
    augmath export ORG/augmath --config gsm8k --num-queries 4000 --paths-per-query 1 --format alpaca --out d4k.jsonl

The rows are written in the config's stored order (queries in the seeded order, each query's paths together),
optionally only D_N (`--num-queries`), at most K paths per query and some rounds, as the training stage would
take them (augmath.dataset_builders.subsets). The file appears only when complete (augmath.io.atomic_writer),
so `augmath import FILE --format F` reads back exactly these question/response pairs.
"""

from __future__ import annotations

import argparse
import json

from augmath.augment.released import EXPORT_FORMATS, to_released
from augmath.dataset_builders.subsets import check_parquet_files, load_config, select
from augmath.errors import OptionError, UserError
from augmath.io import atomic_writer
from augmath.options import POSITIVE


class ExportError(UserError):
    """A dataset or config that cannot be exported (missing, unreadable, or a selection it cannot satisfy)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", help="dataset folder written by `augmath build`, or a Hub id")
    p.add_argument("--config", required=True, help="config to export, e.g. gsm8k or gsm8k-reverse")
    p.add_argument("--format", required=True, choices=EXPORT_FORMATS)
    p.add_argument("--out", required=True, help="JSON Lines file to write")
    p.add_argument("--num-queries", type=POSITIVE, default=None, help="only D_N: the first N queries (default: all)")
    p.add_argument("--paths-per-query", type=POSITIVE, default=None, help="at most K paths per query")
    p.add_argument("--rounds", default=None, help="only these query rounds, comma-separated, e.g. 1,2")
    p.add_argument("--split", default="train")
    p.add_argument("--revision", default=None, help="Hub revision (tag, branch or commit)")


def export(dataset: str, config: str, fmt: str, out: str, num_queries: int | None = None,
           paths_per_query: int | None = None, rounds: list[int] | None = None, split: str = "train",
           revision: str | None = None) -> int:
    """Write the rows of `config` (or its subset) to `out` in `fmt`; returns the number of records."""
    import datasets

    check_parquet_files(dataset)  # a cut parquet file is named, not a DatasetGenerationError traceback
    try:
        configs = datasets.get_dataset_config_names(dataset, revision=revision)
    except Exception as e:  # noqa: BLE001 - missing folder, offline Hub id, unreadable card: one clear line
        raise ValueError(f"cannot read dataset {dataset!r}: {type(e).__name__}: {e}") from None
    if config not in configs:
        raise ValueError(f"dataset {dataset!r} has no config {config!r}; valid configs: {', '.join(configs)}")
    ds = load_config(dataset, config, split, revision)
    ds = select(ds, num_queries, paths_per_query, rounds, what=f"{dataset} config {config!r}").dataset
    with atomic_writer(out) as f:
        for question, response in zip(ds["question"], ds["response"]):
            f.write(json.dumps(to_released(question, response, fmt), ensure_ascii=False) + "\n")
    return len(ds)


def run(args: argparse.Namespace) -> int:
    try:
        rounds = [int(r) for r in args.rounds.split(",")] if args.rounds else None
    except ValueError:
        raise OptionError(f"--rounds {args.rounds!r} is not a comma-separated list of numbers") from None
    try:
        n = export(args.dataset, args.config, args.format, args.out, args.num_queries, args.paths_per_query, rounds,
                   args.split, args.revision)
    except ValueError as e:  # a missing dataset or config, a bad selection: augmath.cli's one line
        if isinstance(e, UserError):
            raise
        raise ExportError(str(e)) from None
    print(f"wrote {n:,} {args.format} records from {args.dataset} config {args.config} -> {args.out}")
    return 0
