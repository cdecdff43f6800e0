"""`augmath augment --shard I/N`: one of N disjoint parts of a run's seeds, and how build joins them again.

    for i in 0 1 2 3; do augmath augment ... --shard $i/4 --out runs/gsm8k-$i; done   # N machines, one each
    augmath build runs/gsm8k-0 runs/gsm8k-1 runs/gsm8k-2 runs/gsm8k-3 --out DATASET

A seed belongs to shard int(sha256(seed id)[:8]) mod N: fixed by its id alone, so the partition does not depend
on the order of the seeds, on --limit's neighbours, or on the machine. Everything an augment run does per seed
(queries, paths, verification; seeded by seed id and round) is the same in a shard as in the whole run. Two steps
are not per seed, and a shard does them so that build can finish them exactly:
- dedup: a shard drops the queries that copy a seed (of ALL the run's seeds, not only its own), but does not
  compare its queries with each other; it writes every other query's question to shard_heads.jsonl with its
  place in the unsharded run's order (seed number, strategy number, round, place within the shard). build puts
  the heads of all N shards in that order and runs the same greedy dedup (augmath.decontam.dedup_rows), so the
  queries it drops are those the unsharded run drops: a query is dropped iff it matches a seed or an earlier
  kept query, and heads flagged by decontamination stay in the dedup as earlier queries, as they do unsharded
  (there dedup comes first).
- ids: a row's dataset id starts with its run's name; shards build under their group's name, the folder name
  without its shard suffix (`gsm8k-3`, `gsm8k.shard-3`, `gsm8k_3-of-4` -> `gsm8k`), so the rows and the parquet
  are byte-identical to an unsharded run in a folder of that name. build refuses an incomplete group.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from augmath.io import DataError, read_jsonl, write_jsonl_atomic

HEADS_FILE = "shard_heads.jsonl"
_SPEC = re.compile(r"^(\d+)/(\d+)$")
_SUFFIX = re.compile(r"^(?P<name>.+?)[._-](?:shard[._-]?)?(?P<i>\d+)(?:[._-]of[._-](?P<n>\d+))?$")


def parse_shard(text: str, out: Path) -> tuple[int, int]:
    """--shard I/N -> (I, N); the run folder must be named after its shard (see group_name)."""
    match = _SPEC.match(text.strip())
    if not match:
        raise DataError(f"--shard {text!r}: expected I/N with 0 <= I < N, e.g. 0/4")
    i, n = int(match.group(1)), int(match.group(2))
    if n < 1 or i >= n:
        raise DataError(f"--shard {text!r}: I must be from 0 to N-1 and N >= 1, e.g. 0/4 ... 3/4")
    group_name(out.resolve().name, i, n)  # refuse a folder name the shards could not be joined by
    return i, n


def in_shard(seed_id: str, index: int, count: int) -> bool:
    return int.from_bytes(hashlib.sha256(seed_id.encode("utf-8")).digest()[:8], "big") % count == index


def group_name(folder: str, index: int, count: int) -> str:
    """The run name the shards build under: the folder name without `-I`, `.shard-I`, `_I-of-N`, ..."""
    match = _SUFFIX.match(folder)
    if not match or int(match.group("i")) != index or (match.group("n") and int(match.group("n")) != count):
        raise DataError(f"--shard {index}/{count}: name the run folder after its shard, e.g. NAME-{index} or "
                        f"NAME.shard-{index}-of-{count} (got {folder!r}); the shards build together as run NAME")
    return match.group("name")


def write_heads(out: Path, heads: list[dict], seed_pos: dict[str, int], strategy_pos: dict[str, int],
                flagged: set[str]) -> None:
    """The queries build deduplicates across shards, with their place in the unsharded run's order."""
    write_jsonl_atomic(out / HEADS_FILE, (
        {"query_id": h["query_id"], "question": h["question"], "decontaminated": h["query_id"] in flagged,
         "order": [seed_pos[h["seed_id"]], strategy_pos[h["strategy"]], h["round"], place]}
        for place, h in enumerate(heads)))


def shard_of(run_json: dict) -> tuple[int, int] | None:
    shard = (run_json.get("config") or {}).get("shard")
    return parse_spec_loosely(shard) if shard else None


def parse_spec_loosely(text: str) -> tuple[int, int]:
    match = _SPEC.match(str(text))
    if not match:
        raise DataError(f"run.json: field 'config.shard' is {text!r}, not I/N")
    return int(match.group(1)), int(match.group(2))


def join_shards(runs) -> tuple[dict[str, str], dict[str, set[str]], dict]:
    """For build: (folder name -> run name its ids use, folder name -> query ids to leave out, summary).
    `runs` are RunInput-like (path, name, run_json). Runs without a shard keep their own name."""
    from augmath.augment.run import run_key
    from augmath.decontam import dedup_rows

    names = {r.name: r.name for r in runs}
    groups: dict[tuple[str, str], list] = {}
    for r in runs:
        shard = shard_of(r.run_json)
        if shard is None:
            continue
        config = {k: v for k, v in r.run_json["config"].items() if k != "shard"}
        groups.setdefault((group_name(r.name, *shard), run_key(config)), []).append((shard, r))
    skip: dict[str, set[str]] = {}
    summary = {}
    for (name, _key), members in sorted(groups.items(), key=lambda g: g[0]):
        if name in summary:
            raise DataError(f"{members[0][1].path}: two sharded runs with other settings both build as {name!r} "
                            "(their row ids would collide); rename one group's folders")
        counts = {n for (_, n), _ in members}
        have = sorted(i for (i, _), _ in members)
        if len(counts) != 1 or have != list(range(next(iter(counts)))):
            raise DataError(f"{members[0][1].path}: shards of run {name!r} are incomplete or mixed (have "
                            f"{', '.join(f'{i}/{n}' for (i, n), _ in sorted(members, key=lambda m: m[0]))}); "
                            "build needs every shard 0..N-1 of one run, made with the same settings")
        heads = []
        for _, r in members:
            path = r.path / HEADS_FILE
            if not path.is_file():
                raise DataError(f"{path}: missing (a shard run folder writes it; run its augment command again)")
            heads += [{**h, "folder": r.name} for h in read_jsonl(path)]
        heads.sort(key=lambda h: h["order"])
        _, dups = dedup_rows(heads, ())
        for d in dups:
            skip.setdefault(d["folder"], set()).add(d["query_id"])
        for _, r in members:
            names[r.name] = name
        summary[name] = {"shards": len(members), "queries": len(heads), "cross_shard_duplicates": len(dups)}
    sharded = {r.name for _, members in groups.items() for _, r in members}
    clash = sorted(set(summary) & (set(names) - sharded))
    if clash:
        raise DataError(f"run folder {clash[0]!r} has the name another run's shards build under (their row ids "
                        "would collide); rename one")
    return names, skip, summary
