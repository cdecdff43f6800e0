"""Training data for augmath.training.sft: dataset rows -> token ids with labels on the response only.

    rows, provenance = load_rows(cfg)                   # D_N of one config, or a mixture of parts
    examples, stats = tokenize_rows(rows, tokenizer, template="alpaca", max_length=512, overlong="truncate")

A dataset is a folder written by `augmath build` (parquet per config + README YAML `configs:`) or a Hub id with
the same layout. Rows need `question` and `response`. D_N (`num_queries`) is the first N queries of a config in
its stored (seeded) order with all their kept paths (at most `paths_per_query`, only `rounds` if given;
augmath.dataset_builders.subsets), so D_N is a subset of D_M for N < M: the nested subsets of the scaling study.
`num_samples` takes the first N rows instead. A mixture is a list of parts (`dataset_parts`), each such a subset
of its own config, or (`dataset_mixture`) N rows split by weight.

An example is prompt + response + eos. The prompt is `augmath.prompts.format_prompt` (the same string evaluation
sends), tokenized on its own, so the token boundary the model learns is the boundary it sees at test time; its
labels are -100 (no loss). Over-long examples lose the end of their response ("truncate") or are dropped
("drop"); examples whose prompt alone fills max_length are always dropped. Both are counted in `stats`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augmath.dataset_builders import local_cache_dir
from augmath.errors import UserError
from augmath.prompts import format_prompt

IGNORE_INDEX = -100


class DatasetError(UserError, ValueError):
    """The recipe's dataset cannot be used: unknown config/split, missing columns, empty, too few rows."""


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]  # IGNORE_INDEX on prompt tokens

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass
class TokenStats:
    rows: int = 0
    kept: int = 0
    truncated: int = 0
    dropped_overlong: int = 0
    dropped_prompt_too_long: int = 0
    tokens: int = 0  # input tokens of the kept examples (one epoch)
    response_tokens: int = 0  # tokens that carry loss (one epoch)
    lengths: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def dataset_configs(dataset: str, revision: str | None = None) -> list[str]:
    import datasets

    try:
        return list(datasets.get_dataset_config_names(dataset, revision=revision))
    except FileNotFoundError:
        raise DatasetError(f"dataset {dataset!r} not found (neither a local folder nor a reachable Hub id)") from None
    except Exception as e:  # offline Hub id, unreadable README, ...
        raise DatasetError(f"cannot list the configs of dataset {dataset!r}: {type(e).__name__}: {e}") from None


def check_local_files(dataset: str) -> None:
    """A local dataset folder's parquet files must be whole: a truncated or corrupt one is named here, in one line,
    before `augmath train` launches anything (augmath.dataset_builders.subsets.check_parquet_files)."""
    from augmath.dataset_builders.subsets import check_parquet_files
    from augmath.io import DataError

    try:
        check_parquet_files(dataset)
    except DataError as e:
        raise DatasetError(str(e)) from None


def _load_config(dataset: str, config: str | None, split: str, revision: str | None, valid: list[str]):
    import datasets

    if config is not None and config not in valid:
        raise DatasetError(f"dataset {dataset!r} has no config {config!r}; valid configs: {', '.join(valid)}")
    try:
        ds = datasets.load_dataset(dataset, config, split=split, revision=revision,
                                   cache_dir=local_cache_dir(dataset))
    except datasets.exceptions.DatasetGenerationError as e:
        cause = f"{type(e.__cause__).__name__}: {e.__cause__}" if e.__cause__ else str(e)
        if "BatchSize must be greater than 0" in cause:  # pyarrow's error for a parquet file with zero rows
            raise DatasetError(f"dataset {dataset!r} config {config!r} split {split!r} has no rows") from None
        raise DatasetError(f"dataset {dataset!r} config {config!r} could not be read: {cause}") from None
    except ValueError as e:  # unknown split, or no config given for a dataset without a default
        raise DatasetError(f"dataset {dataset!r} config {config!r}: {e} (configs: {', '.join(valid)})") from None
    missing = [c for c in ("question", "response") if c not in ds.column_names]
    if missing:
        raise DatasetError(f"dataset {dataset!r} config {config!r} split {split!r} lacks column(s) {missing}; "
                           f"columns: {ds.column_names}")
    return ds


def _take(ds, n: int | None, what: str):
    if n is None:
        return ds
    if n > len(ds):
        raise DatasetError(f"{what}: asked for the first {n} rows but it has only {len(ds)}")
    return ds.select(range(n))


def mixture_counts(weights: dict[str, float], sizes: dict[str, int], n: int | None) -> dict[str, int]:
    """Rows taken from each config: N split in proportion to the weights (largest remainders get the rest);
    without N, each config contributes weight/max(weight) of its rows."""
    total = sum(weights.values())
    if n is None:
        top = max(weights.values())
        return {c: int(sizes[c] * w / top) for c, w in weights.items()}
    exact = {c: n * w / total for c, w in weights.items()}
    counts = {c: int(x) for c, x in exact.items()}
    for c in sorted(exact, key=lambda c: (-(exact[c] - counts[c]), c))[: n - sum(counts.values())]:
        counts[c] += 1
    return counts


def _subset(ds, config: str | None, spec: dict, rows: int | None = None) -> tuple[Any, dict]:
    """One part: its nested subset by query (num_queries, paths_per_query, rounds), then the first `rows` rows."""
    from augmath.dataset_builders import count_queries, select

    try:
        chosen = select(ds, spec.get("num_queries"), spec.get("paths_per_query"), spec.get("rounds"),
                        what=f"config {config!r}").dataset
    except ValueError as e:
        raise DatasetError(str(e)) from None
    chosen = _take(chosen, rows, f"config {config!r}")
    return chosen, {"config": config, **{k: spec.get(k) for k in ("num_queries", "paths_per_query", "rounds")},
                    "queries": count_queries(chosen), "rows": len(chosen)}


def _parts(cfg) -> list[tuple[str | None, dict, int | None]]:
    """(config, subset spec, rows) per part, whichever way the recipe names its data."""
    if cfg.dataset_parts:
        return [(p["config"], p, None) for p in cfg.dataset_parts]
    if cfg.dataset_mixture:
        return [(c, {}, None) for c in cfg.dataset_mixture]  # rows per config: mixture_counts, once sizes are known
    spec = {k: getattr(cfg, k) for k in ("num_queries", "paths_per_query", "rounds")}
    return [(cfg.dataset_config, spec, cfg.num_samples)]


def load_rows(cfg) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """The training rows ({question, response}) the recipe names, and their provenance for card/manifest."""
    valid = dataset_configs(cfg.dataset, cfg.dataset_revision)
    wanted = _parts(cfg)
    named = [c for c, _, _ in wanted if c is not None]
    unknown = [c for c in named if c not in valid]
    if len(named) > 1 and unknown:
        raise DatasetError(f"dataset {cfg.dataset!r} has no config(s) {unknown}; valid configs: {', '.join(valid)}")
    loaded = [_load_config(cfg.dataset, c, cfg.dataset_split, cfg.dataset_revision, valid) for c, _, _ in wanted]
    if cfg.dataset_mixture:
        counts = mixture_counts(cfg.dataset_mixture, {c: len(d) for (c, _, _), d in zip(wanted, loaded)},
                                cfg.num_samples)
        wanted = [(c, spec, counts[c]) for c, spec, _ in wanted]
    parts, info = [], []
    for (config, spec, n_rows), ds in zip(wanted, loaded):
        chosen, about = _subset(ds, config, spec, n_rows)
        parts.append((config, chosen))
        info.append(about)
    rows: list[dict[str, str]] = []
    for config, ds in parts:
        for i, (q, r) in enumerate(zip(ds["question"], ds["response"])):
            if not isinstance(q, str) or not isinstance(r, str) or not q.strip() or not r.strip():
                raise DatasetError(f"dataset {cfg.dataset!r} config {config!r} row {i}: empty or non-text "
                                   f"question/response")
            rows.append({"question": q, "response": r})
    if not rows:
        raise DatasetError(f"dataset {cfg.dataset!r} ({cfg.dataset_config or cfg.dataset_mixture or named}) "
                           f"split {cfg.dataset_split!r} has no rows")
    digest = hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()
    provenance = {
        "id": cfg.dataset, "config": cfg.dataset_config, "mixture": cfg.dataset_mixture,
        "rows_per_config": {str(c): len(d) for c, d in parts}, "split": cfg.dataset_split,
        "revision": cfg.dataset_revision or _local_version(cfg.dataset), "num_samples": len(rows),
        "num_queries": sum(p["queries"] for p in info), "parts": info, "rows_sha256": digest,
        **_published_as(cfg.dataset),
    }
    return rows, provenance


def _published_as(dataset: str) -> dict[str, str]:
    """A local folder built for a Hub repo (`augmath build --repo-id`): its repo id and version tag, so the model
    card names the training data as users will load it."""
    manifest = Path(dataset) / "manifest.json"
    data = json.loads(manifest.read_bytes()) if manifest.is_file() else {}
    if not data.get("repo_id"):
        return {}
    return {"hub_id": data["repo_id"], "hub_revision": f"v{data['version']}"}


def _local_version(dataset: str) -> str | None:
    """A local folder's version + manifest hash (augmath build writes manifest.json); None otherwise."""
    manifest = Path(dataset) / "manifest.json"
    if not manifest.is_file():
        return None
    data = manifest.read_bytes()
    version = json.loads(data).get("version")
    return f"{version or 'local'}+manifest.{hashlib.sha256(data).hexdigest()[:12]}"


def tokenize_rows(rows: list[dict[str, str]], tokenizer, template: str = "alpaca", max_length: int = 512,
                  overlong: str = "truncate") -> tuple[list[Example], TokenStats]:
    """Prompt/response -> Example; the prompt is tokenized alone and masked, eos closes the response."""
    if tokenizer.eos_token_id is None:
        raise DatasetError("the tokenizer has no eos token: the model could never learn to stop")
    prompts = [format_prompt(r["question"], template, tokenizer) for r in rows]
    # A chat template writes its own special tokens into the text; the Alpaca prompt gets the tokenizer's (bos).
    prompt_ids = tokenizer(prompts, add_special_tokens=(template != "chat"))["input_ids"]
    response_ids = tokenizer([r["response"] for r in rows], add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id
    stats = TokenStats(rows=len(rows))
    examples: list[Example] = []
    for p, r in zip(prompt_ids, response_ids):
        r = list(r) + [eos]
        if len(p) + len(r) > max_length:
            if overlong == "drop" or len(p) >= max_length:
                if len(p) >= max_length:
                    stats.dropped_prompt_too_long += 1
                else:
                    stats.dropped_overlong += 1
                continue
            r = r[: max_length - len(p)]
            stats.truncated += 1
        examples.append(Example(list(p) + r, [IGNORE_INDEX] * len(p) + r))
        stats.tokens += len(p) + len(r)
        stats.response_tokens += len(r)
    stats.kept = len(examples)
    if examples:
        lengths = sorted(len(e) for e in examples)
        stats.lengths = {"min": lengths[0], "median": lengths[len(lengths) // 2], "max": lengths[-1],
                         "mean": round(stats.tokens / len(lengths), 1)}
    return examples, stats
