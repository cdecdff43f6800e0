"""Nested subsets of a built config, by query: D_N = the first N queries with all their kept paths.

    part = select(ds, n=4000, paths_per_query=2, rounds=[0, 1])   # -> Selection(dataset, queries, rows)
    d_4k = take_subset("outputs/augmath", "gsm8k", 4000)          # the same from a folder or Hub id

`augmath build` stores each config query by query (queries in their seeded order, a query's rows together by
path_index), so taking the first N queries of the stored order gives D_1 ⊂ D_2 ⊂ ... for any fixed
`paths_per_query` K and `rounds`, and D_N with K paths ⊂ D_N with K+1 paths: the queries x responses grid.
`rounds` keeps rows of those query rounds only (numbered from 0, as `augmath augment --first-round` numbers them:
MuggleMath's D1 ⊂ D1+D2 ⊂ D1+D2+D3 are rounds [0], [0, 1], [0, 1, 2]); N then counts queries of those rounds.

A dataset without a `query_id` column (another project's data, or any table) has one query per row, so N counts
rows there. Rows of one query must be contiguous, as the build writes them; otherwise this raises rather than
silently count a query twice.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Selection:
    dataset: Any  # datasets.Dataset
    queries: int
    rows: int


def select(ds, n: int | None = None, paths_per_query: int | None = None, rounds: list[int] | None = None,
           what: str = "dataset") -> Selection:
    """The first n queries of `ds` in its stored order (all when n is None), at most `paths_per_query` rows
    each, only rows whose `round` is in `rounds`; ValueError naming `what` if it has fewer than n queries."""
    if n is not None and n < 1:
        raise ValueError(f"{what}: the number of queries must be >= 1, got {n}")
    if paths_per_query is not None and paths_per_query < 1:
        raise ValueError(f"{what}: paths_per_query must be >= 1, got {paths_per_query}")
    columns = ds.column_names
    if rounds is not None and "round" not in columns:
        raise ValueError(f"{what} has no 'round' column, so it cannot be subset by rounds {rounds}")
    if n is None and paths_per_query is None and rounds is None:
        return Selection(ds, count_queries(ds), len(ds))
    ids = list(ds["query_id"]) if "query_id" in columns else range(len(ds))
    wanted = set(rounds) if rounds is not None else None
    row_rounds = list(ds["round"]) if wanted is not None else None
    keep: list[int] = []
    seen: set = set()
    previous, rank = object(), 0
    for i, qid in enumerate(ids):
        if wanted is not None and row_rounds[i] not in wanted:
            continue
        if qid != previous:
            if qid in seen:
                raise ValueError(f"{what}: the rows of query {qid!r} are not contiguous (not in the order "
                                 "`augmath build` writes), so its first N queries are not defined")
            if n is not None and len(seen) == n:
                break
            seen.add(qid)
            previous, rank = qid, 0
        else:
            rank += 1
        if paths_per_query is None or rank < paths_per_query:
            keep.append(i)
    if n is not None and len(seen) < n:
        where = f" of rounds {sorted(wanted)}" if wanted is not None else ""
        raise ValueError(f"{what}: asked for the first {n} queries but it has only {len(seen)}{where}")
    return Selection(ds.select(keep), len(seen), len(keep))


def count_queries(ds) -> int:
    """Queries in `ds` (rows without a query_id column); a query's rows are contiguous."""
    if "query_id" not in ds.column_names:
        return len(ds)
    ids = list(ds["query_id"])
    return sum(1 for i, q in enumerate(ids) if i == 0 or q != ids[i - 1])


def subset_sizes(total: int, first: int = 1000, factor: int = 2) -> list[int]:
    """The doubling data amounts (in queries) of a scaling study: first, first*factor, ... and finally `total`."""
    sizes, n = [], first
    while n < total:
        sizes.append(n)
        n *= factor
    return sizes + [total]


def local_cache_dir(dataset: str) -> str | None:
    """A datasets cache folder keyed by the local folder's files (path, size, mtime), or None for Hub ids.

    Why: datasets 5.2 keys its Arrow cache of a local parquet folder by the folder's NAME and config only, not by
    the files' path, size or time; a rebuilt `outputs/dataset` (or any other folder with the same name) would
    silently load the OLD rows from the cache. Same files -> same key -> the cache is still shared."""
    import datasets

    root = Path(dataset)
    if not root.is_dir():
        return None
    h = hashlib.sha256(str(root.resolve()).encode())
    for path in sorted(p for p in root.rglob("*") if p.is_file() and ".cache" not in p.parts):
        st = path.stat()
        h.update(f"{path.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return str(Path(datasets.config.HF_DATASETS_CACHE) / "augmath-local" / h.hexdigest()[:20])


def check_parquet_files(dataset: str | os.PathLike) -> None:
    """A local dataset folder's parquet files must be whole: a truncated or corrupt one is named in one line
    (DataError) before anything reads the dataset (reading a file's footer costs milliseconds)."""
    import pyarrow.parquet as pq

    from augmath.io import DataError

    root = Path(dataset)
    if not root.is_dir():
        return  # a Hub id: datasets checks what it downloads
    for path in sorted(root.rglob("*.parquet")):
        try:
            pq.read_metadata(path)
        except Exception as e:  # noqa: BLE001 - pyarrow raises ArrowInvalid / OSError for cut or foreign files
            raise DataError(f"{path}: not a readable parquet file, truncated or corrupt ({e}); rebuild the "
                            "dataset with `augmath build`") from None


def load_config(dataset: str | os.PathLike, config: str, split: str = "train", revision: str | None = None):
    """One config of a local dataset folder or Hub id, through a cache keyed by the local files (see above)."""
    import datasets

    return datasets.load_dataset(str(dataset), config, split=split, revision=revision,
                                 cache_dir=local_cache_dir(str(dataset)))


def take_subset(dataset: str | os.PathLike, config: str, n: int | None, *, paths_per_query: int | None = None,
                rounds: list[int] | None = None, split: str = "train", revision: str | None = None):
    """D_n of `config` in a local dataset folder or a Hub id (see `select`); D_n ⊂ D_m for n < m."""
    ds = load_config(dataset, config, split, revision)
    return select(ds, n, paths_per_query, rounds, what=f"{dataset} config {config!r}").dataset
