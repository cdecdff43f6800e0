"""`augmath import FILE`: published augmented data (MuggleMath, MetaMathQA, Alpaca) -> a run folder.

`augmath import FILE`: published augmented data (MuggleMath, MetaMathQA, Alpaca) -> a run folder that
`augmath build`, `train` and `eval` use like one written by `augmath augment`.

    augmath import AugGSM8K.jsonl --format mugglemath --source gsm8k --out runs/auggsm8k-released \
        --query-generator qwen-max-1201 --response-generator deepseek-math-rl
    augmath import MetaMathQA-395K.json --format metamathqa --source math --out runs/metamath-math

Why here, in augmath.augment: an import makes the same product as `augmath augment` (a run folder), so it uses
the same row layout (rows.item_row: the one place generator names are set), the same tally and report, and the
same dedup and decontamination (run._dedup_and_decontaminate) rather than a copy of them; dataset_builders only
reads run folders. (`augmath export` reads a built dataset, so it lives in dataset_builders/export.py.)

Each distinct question (per strategy) becomes one query; its records, in file order, are its paths. The query
is linked to the train record it was made from (augmath.augment.link: exact text of the published original
question, else nearest neighbour with its score kept in the row as `seed_link` / `seed_link_score`); a query
that links to nothing is dropped and counted, or kept with --allow-unlinked under a seed id starting with
`unlinked/` (no `-original` row then). Each response's final answer is extracted with the project's grader;
a response without one is dropped and counted. Imported rows are not verified here: `verification` is
`released` and `verified` false. A bad file fails on its first bad record, naming file:line and field, and
the run folder appears only when complete (written beside it, then renamed).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import time
from collections import Counter
from pathlib import Path

from augmath import __version__
from augmath.augment.released import FIELDS, ReleasedRow, read_released
from augmath.augment.rows import UNLINKED_SEED, Tally, dropped_row, item_row
from augmath.io import DataError, atomic_folder, sha256_file, write_json_atomic, write_jsonl_atomic
from augmath.options import NON_NEGATIVE, PROBABILITY, check_output_folder

NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # a strategy name becomes part of config names (`gsm8k-<strategy>`)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from augmath.sources import DATA_DIR_HELP  # a short, light module: help text only

    p.add_argument("file", help="JSON Lines file (or a .json array) in the given format")
    p.add_argument("--format", required=True, choices=list(FIELDS), help="record layout (docs/augment.md, Import)")
    p.add_argument("--source", required=True, choices=["gsm8k", "math"], help="benchmark whose train split seeded it")
    p.add_argument("--out", required=True, help="run folder to create (must not exist, or be empty)")
    p.add_argument("--strategy", default="imported",
                   help="strategy name of the rows (default: imported; metamathqa: from each record's type)")
    p.add_argument("--round", type=NON_NEGATIVE, default=0,
                   help="query round of the rows (numbered from 0, as augment's)")
    p.add_argument("--query-generator", default="unknown", help="model that wrote the queries")
    p.add_argument("--response-generator", default=None, help="model that wrote the responses (default: the same)")
    p.add_argument("--min-link-score", type=PROBABILITY, default=0.5,
                   help="least TF-IDF cosine similarity to link a query to its nearest train question (default 0.5)")
    p.add_argument("--allow-unlinked", action="store_true",
                   help="keep queries linked to no train record (counted; they have no -original row)")
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    p.add_argument("--skip-decontam", action="store_true", help="do not check against evaluation sets")


def run(args: argparse.Namespace) -> int:
    report = import_file(args)  # a DataError is augmath.cli's one line
    print(f"import: {report['records']} records -> {report['items']} items, {report['dropped']} dropped "
          f"(links: {report['linking']['counts']}) -> {args.out}", file=sys.stderr)
    return 0


def _prepare_out(out: Path) -> None:
    check_output_folder(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataError(f"{out} exists and is not empty; an import writes a new run folder (choose another --out)")


def import_file(args: argparse.Namespace) -> dict:
    from augmath import grading
    from augmath.augment.link import SeedLinker, normalize
    from augmath.augment.run import _dedup_and_decontaminate, run_key
    from augmath.augment.strategies import Query
    from augmath.sources import Record, load

    started, out, path = time.time(), Path(args.out), Path(args.file)
    _prepare_out(out)
    if not NAME.match(args.strategy) or args.strategy in ("original", "default"):
        raise DataError(f"--strategy {args.strategy!r} is not a valid config name part (lowercase letters, digits "
                        "and '_', starting with a letter; not 'original'/'default')")
    if args.round < 0:
        raise DataError(f"--round must be >= 0, got {args.round}")
    records = list(read_released(path, args.format))
    file_sha = sha256_file(path)
    prompt_hash = f"released-{file_sha[:12]}"  # the prompts are unknown; rows from one file share this hash
    generators = (args.query_generator, args.response_generator or args.query_generator)
    queries: dict[tuple[str, str], list[ReleasedRow]] = {}  # (strategy, normalised question) -> its records
    skipped = Counter()
    for r in records:
        if r.source not in (None, args.source):
            skipped[f"source {r.source}, not {args.source}"] += 1
            continue
        queries.setdefault((r.strategy or args.strategy, normalize(r.question)), []).append(r)
    seeds = load(args.source, "train", args.data_dir)
    heads = [rows[0] for rows in queries.values()]
    links = SeedLinker(seeds, args.min_link_score).link([h.original_question or h.question for h in heads])
    queries, links = seed_queries(queries, links, args.strategy, normalize)
    tally = Tally(list(dict.fromkeys(strategy for strategy, _ in queries)))
    items, dropped = [], []

    def drop(row: dict) -> None:
        dropped.append(row)
        tally.drop(row)

    link_counts, no_answer, duplicates = Counter(), 0, 0
    for ((strategy, text), rows), link in zip(queries.items(), links):
        variant = hashlib.sha256(text.encode()).hexdigest()[:12]
        seed = link.record or Record(f"{UNLINKED_SEED}{args.source}/{variant}", args.source, "train",
                                     rows[0].question, None, "")
        q = Query(seed, strategy, args.round, rows[0].question, None, "released", generators[0], prompt_hash,
                  variant=variant)
        tally.seeds[strategy] += 1
        kept_link = link.record is not None or args.allow_unlinked
        link_counts[link.how + ("" if kept_link else " (dropped)")] += 1
        if not kept_link:
            drop(dropped_row("query", f"linked to no {args.source} train question (best score {link.score} < "
                                      f"{args.min_link_score})", seed, strategy, args.round, q, detail=rows[0].where))
            continue
        tally.queries[strategy] += 1
        seen: set[str] = set()
        for path_index, r in enumerate(rows):
            answer = grading.extract(r.response, args.source)
            if normalize(r.response) in seen:  # the same response again: a real duplicate of a kept row
                drop(dropped_row("dedup", "duplicate-exact response", seed, strategy, args.round, q, r.response,
                                 path_index, detail=r.where, generator=generators[1]))
                duplicates += 1
                continue
            seen.add(normalize(r.response))
            if not answer:
                no_answer += 1
                drop(dropped_row("paths", "no final answer in the response", seed, strategy, args.round, q,
                                 r.response, path_index, detail=r.where, generator=generators[1]))
                continue
            tally.paths_kept[strategy] += 1
            items.append({**item_row(q, r.response, answer, path_index, generators[1], {}, None),
                          "seed_link": link.how, "seed_link_score": link.score})
    items = _dedup_and_decontaminate(items, seeds, args, tally, drop)
    tally.count_items(items)
    nearest = sorted(l.score for l in links if l.how == "nearest")
    report = {"source": args.source, "format": args.format, "file": path.name, "file_sha256": file_sha,
              "records": len(records), "skipped": dict(skipped), "queries": len(queries), "seeds": len(seeds),
              "items": len(items), "dropped": len(dropped), "no_answer": no_answer,
              "linking": {"counts": dict(sorted(link_counts.items())), "min_score": args.min_link_score,
                          "nearest_score_min": nearest[0] if nearest else None,
                          "nearest_score_median": nearest[len(nearest) // 2] if nearest else None},
              "strategies": tally.report(), "tokens": {}, "engine": {}, "failed_calls": 0,
              "dedup": tally.stage_counts.get("dedup", {}), "duplicate_responses": duplicates,
              "decontamination": {"removed": tally.stage_counts.get("decontam", {}), **tally.decontam},
              "elapsed_s": round(time.time() - started, 1)}
    config = {"augmath_version": __version__, "import": True, "file": path.name, "file_sha256": file_sha,
              **{k: getattr(args, k) for k in ("format", "source", "strategy", "round", "min_link_score",
                                                "allow_unlinked", "data_dir", "skip_decontam")},
              "query_generator": generators[0], "response_generator": generators[1]}
    key = run_key(config)  # run.json and report.json name the same run, as `augmath augment` writes them
    _write_run(out, {"config": config, "run_key": key, "seeds": len(seeds), "prompt_hashes": {"released": prompt_hash},
                     "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started))},
               items, dropped, {**report, "run_key": key})
    return report


def seed_queries(queries: dict, links: list, default_strategy: str, normalize) -> tuple[dict, list]:
    """A query that is its seed's own question (the paper's released GSM8K file holds the train items
    themselves) is not an evolution of it: its rows whose response is the seed solution become the `original`
    strategy, the others `paths` of the seed, as `augmath augment --strategies paths` makes them. Only queries
    with no strategy of their own in the file (MetaMathQA's `type` already says AnsAug -> paths) are regrouped;
    rows of one regrouped query keep their file order."""
    out: dict[tuple[str, str], list] = {}
    out_links: dict[tuple[str, str], object] = {}
    for ((strategy, text), rows), link in zip(queries.items(), links):
        seed = link.record
        if strategy != default_strategy or seed is None or normalize(seed.question) != text:
            out.setdefault((strategy, text), []).extend(rows)
            out_links.setdefault((strategy, text), link)
            continue
        solution = normalize(seed.solution)
        for r in rows:
            key = ("original" if normalize(r.response) == solution else "paths", text)
            out.setdefault(key, []).append(r)
            out_links.setdefault(key, link)
    return out, [out_links[key] for key in out]


def _write_run(out: Path, run_json: dict, items: list[dict], dropped: list[dict], report: dict) -> None:
    """All four files into a temporary folder beside `out` (`.OUT.import-*`, removed by the next run if this one
    is killed), then one rename: no half-written run folder. `out` was checked empty before the work started."""
    with atomic_folder(out, tag="import", replace="empty") as tmp:
        write_json_atomic(tmp / "run.json", run_json)
        write_jsonl_atomic(tmp / "items.jsonl", items)
        write_jsonl_atomic(tmp / "dropped.jsonl", dropped)
        files = {name: sha256_file(tmp / name) for name in ("items.jsonl", "dropped.jsonl")}
        write_json_atomic(tmp / "report.json", {**report, "files": files})
