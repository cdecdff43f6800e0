"""What `augmath build` counts while it streams rows: per config, per strategy, per generator pair.

Rows and queries per config, verification per (source, strategy), and who made the data: rows and queries
per strategy x round x generator pair.

The rows arrive in the dataset's order, where each query's rows are contiguous, so a query is counted when its
first row arrives and nothing per query is kept in memory.
"""

from __future__ import annotations

from collections import Counter, defaultdict


class BuildCounts:
    def __init__(self) -> None:
        self.rows: Counter = Counter()     # config -> rows
        self.queries: Counter = Counter()  # config -> queries
        self.capped = 0                    # rows left out by --paths-per-query
        self.verification: dict[tuple[str, str], dict] = defaultdict(
            lambda: {"rows": 0, "verified": 0, "agreement_sum": 0.0, "agreement_n": 0, "methods": Counter(),
                     "prompts": Counter()})
        self.makers: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])  # (source, strategy, round, qgen, rgen)

    def add(self, row: dict, configs: tuple[str, ...], first_of_query: bool) -> None:
        for name in configs:
            self.rows[name] += 1
            self.queries[name] += first_of_query
        s = self.verification[(row["source"], row["strategy"])]
        s["rows"] += 1
        s["verified"] += bool(row["verified"])
        if row["agreement"] is not None:
            s["agreement_sum"] += float(row["agreement"])
            s["agreement_n"] += 1
        s["methods"][row["verification"]] += 1
        s["prompts"][(row["generator"], row["prompt_hash"])] += 1
        made = self.makers[(row["source"], row["strategy"], row["round"], row["query_generator"],
                            row["response_generator"])]
        made[0] += first_of_query
        made[1] += 1

    def makers_table(self) -> list[dict]:
        """Rows and queries per strategy x round x (query generator, response generator), for card and manifest."""
        return [{"config": f"{src}-{strategy}", "round": rnd, "query_generator": qgen, "response_generator": rgen,
                 "queries": queries, "rows": rows}
                for (src, strategy, rnd, qgen, rgen), (queries, rows) in sorted(self.makers.items())]
