"""Rows and counts of an augment run: the items/dropped row layout (with full provenance) and the report.

items.jsonl row: id, query_id, seed_id, source, strategy, round, question, response, answer, generator,
    query_generator, response_generator, prompt_hash, sampling (JSON string), path_index,
    verification (method), verified, agreement.
    query_id names one generated query (`{seed_id}/{strategy}/{round}`, plus a variant where one seed, strategy
    and round hold several, as in imported data); its kept paths are the rows `{query_id}/{path_index}`, so
    nested subsets can take whole queries. Rounds are numbered from 0 (`augmath augment --first-round`).
dropped.jsonl row: the same provenance where it exists, plus stage (query / paths / dedup / decontam) and
    reason. Nothing is dropped silently: every drop is a row and a count in report.json.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict

from augmath.augment.strategies import Query

# how a row's answer was established, per Query.gold_method; "released": taken as published (augmath import)
VERIFICATION = {"exact-chain": "exact-chain", "masked-number": "gold-match", "seed-gold": "gold-match",
                "majority": "majority-vote", "released": "released"}
UNVERIFIED = {"released"}  # methods whose rows were not checked here (verified = False)
# seed_id prefix of imported rows whose seed is no train record (augmath import --allow-unlinked): no original
UNLINKED_SEED = "unlinked/"


def query_id(q: Query) -> str:
    return f"{q.seed.id}/{q.strategy}/{q.round}" + (f"/{q.variant}" if q.variant else "")


def row_id(q: Query, path_index: int) -> str:
    return f"{query_id(q)}/{path_index}"


def item_row(q: Query, response: str, answer: str, path_index: int, response_generator: str,
             path_sampling: dict, agreement: float | None) -> dict:
    """The one place a kept row is laid out (and where its generator names are set)."""
    return {
        "id": row_id(q, path_index),
        "query_id": query_id(q),
        "seed_id": q.seed.id,
        "source": q.seed.source,
        "strategy": q.strategy,
        "round": q.round,
        "question": q.question,
        "response": response,
        "answer": answer,
        # the model that wrote the row's text; "exact" only when no model was involved at all
        "generator": response_generator if response_generator != "exact" else q.generator,
        "query_generator": q.generator,
        "response_generator": response_generator,
        "prompt_hash": q.prompt_hash,
        "sampling": json.dumps({"query": q.sampling, "response": path_sampling}, sort_keys=True),
        "path_index": path_index,
        "verification": VERIFICATION[q.gold_method],
        "verified": q.gold_method not in UNVERIFIED,
        "agreement": None if agreement is None else round(float(agreement), 4),
    }


def dropped_row(stage: str, reason: str, seed, strategy: str, round_index: int, q: Query | None = None,
                response: str | None = None, path_index: int | None = None, detail: str | None = None,
                generator: str | None = None) -> dict:
    return {
        "id": f"{seed.id}/{strategy}/{round_index}" + (f"/{path_index}" if path_index is not None else ""),
        "seed_id": seed.id,
        "source": seed.source,
        "strategy": strategy,
        "round": round_index,
        "stage": stage,
        "reason": reason,
        "question": q.question if q else None,
        "response": response,
        "generator": generator or (q.generator if q else None),
        "prompt_hash": q.prompt_hash if q else None,
        "path_index": path_index,
        "detail": detail,
    }


class Tally:
    """Counts per strategy: seeds tried, queries made / kept, items, drops by stage and reason."""

    def __init__(self, strategies: list[str]):
        self.seeds: Counter = Counter()
        self.queries: Counter = Counter()
        self.queries_kept: Counter = Counter()
        self.items: Counter = Counter()
        self.paths_sampled: Counter = Counter()
        self.paths_kept: Counter = Counter()
        self.dropped: dict[str, Counter] = defaultdict(Counter)  # strategy -> "stage: reason" -> n
        self.agreement: dict[str, list[float]] = defaultdict(list)
        self.votes: Counter = Counter()  # majority votes: held / tied / no strict majority / ...
        self.stage_counts: dict[str, dict[str, int]] = {}  # dedup / decontam: reason -> rows removed
        self.decontam: dict = {"skipped": True}  # what was checked (sets, thresholds), flags per evaluation set
        self.order = strategies

    def count_items(self, items: list[dict]) -> None:
        """Final counts, after dedup and decontamination: rows and distinct queries kept per strategy."""
        self.items = Counter(r["strategy"] for r in items)
        self.queries_kept = Counter(r["strategy"] for r in {r["query_id"]: r for r in items}.values())

    def drop(self, row: dict) -> None:
        self.dropped[row["strategy"]][f"{row['stage']}: {row['reason']}"] += 1

    def report(self) -> dict:
        out = {}
        for name in self.order:
            seeds = self.seeds[name]
            agreements = self.agreement[name]
            out[name] = {
                "seeds": seeds,
                "queries_made": self.queries[name],
                "queries_kept": self.queries_kept[name],
                "items": self.items[name],
                "acceptance": round(self.queries_kept[name] / seeds, 4) if seeds else None,
                "paths_sampled": self.paths_sampled[name],
                "paths_kept": self.paths_kept[name],
                "mean_agreement": round(sum(agreements) / len(agreements), 4) if agreements else None,
                "dropped": dict(sorted(self.dropped[name].items(), key=lambda kv: (-kv[1], kv[0]))),
            }
        return out
