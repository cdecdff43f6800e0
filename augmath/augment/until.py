"""Difficulty-aware path sampling: sample in rounds until k good paths or a cap (DART-Math, arXiv 2407.13690).

    augmath augment ... --paths 4 --until-correct 4 --paths-cap 32

DART-Math's "uniform" rejection sampling keeps the same number of correct responses for every query instead of
the same number of samples, so hard queries get more samples ("until k correct", their Dars-Uniform); fixed k
(`--paths K`, the default) samples K for every query, so hard queries end with few or no correct paths.
Here, each round asks for `--paths` more samples of every query that is not settled yet, until:
- a query with a gold answer (masked-number, seed-gold) has k distinct correct paths (as verify.filter_paths
  keeps them), or
- a query without gold (a model-written question) has k paths agreeing with the majority answer, or
- the query has `--paths-cap` samples.
Every round is an ordinary engine call on the durable log: sample i of a query has the same key whatever the
round, so a rerun reads the earlier rounds from the log, takes the same decisions and sends only what is missing.
report.json `difficulty_aware`: paths spent per query, overall and per difficulty (the share of good paths among
those sampled), and how many queries reached k; every kept row records in its `sampling` JSON (response part)
`paths_sampled`, the number of paths its query got, so a scaling fit can compare uniform and difficulty-aware data.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from augmath.augment.verify import filter_paths, majority, solver_messages

# difficulty buckets by the share of good paths among the query's sampled paths (DART-Math: fail rate)
BUCKETS = ((0.75, "easy (>= 75% good)"), (0.5, "medium (50-75%)"), (0.25, "hard (25-50%)"),
           (0.0, "very hard (< 25%)"))


def add_until_arguments(p) -> None:
    p.add_argument("--until-correct", type=int, default=None, metavar="K",
                   help="difficulty-aware paths: sample --paths more per round until K correct paths (gold) or "
                        "K paths agreeing with the majority (no gold), or --paths-cap (DART-Math)")
    p.add_argument("--paths-cap", type=int, default=None,
                   help="--until-correct: most paths sampled per query (default 8 x K)")


def check_until_arguments(args) -> None:
    from augmath.io import DataError

    if args.until_correct is None:
        if args.paths_cap is not None:
            raise DataError("--paths-cap needs --until-correct")
        return
    if args.until_correct < 1 or args.paths < 1:
        raise DataError("--until-correct K needs K >= 1 and --paths >= 1 (the samples asked per round)")
    if args.paths_cap is not None and args.paths_cap < args.paths:
        raise DataError(f"--paths-cap {args.paths_cap} is below --paths {args.paths} (one round)")


def cap_of(args) -> int:
    return args.paths_cap if args.paths_cap is not None else 8 * args.until_correct


def good_paths(q, texts: list[str], kind: str) -> int:
    """Distinct correct paths (gold) or paths agreeing with the majority (no gold), as _verify will keep them."""
    texts = ([q.solution] if q.solution else []) + texts
    if q.gold is not None:
        return sum(v.kept for v in filter_paths(texts, q.gold, kind))
    vote = majority(texts, kind)
    return vote.votes if vote.answer is not None else 0


def sample_until(engine, queries: list, args, kind: str, params: dict):
    """(query index -> completions sorted by index, query index -> paths asked, requests of the last round of
    each query). Rounds of `--paths` samples until each query has k good paths or the cap."""
    from augmath.engine import Request

    k, cap = args.until_correct, cap_of(args)
    asked = {i: 0 for i in range(len(queries))}
    got: dict[int, list] = {}
    last: dict[int, Request] = {}
    active = list(asked)
    while active:
        requests = []
        for i in active:
            asked[i] = min(asked[i] + args.paths, cap)
            last[i] = Request(solver_messages(queries[i].question, kind), asked[i], params, {"q": i})
            requests.append(last[i])
        by_query: dict[int, list] = defaultdict(list)
        for c in engine.run(requests):
            by_query[c.meta["q"]].append(c)
        still = []
        for i in active:
            got[i] = sorted(by_query.get(i, []), key=lambda c: c.index)
            if asked[i] < cap and good_paths(queries[i], [c.text for c in got[i]], kind) < k:
                still.append(i)
        active = still
    return {i: cs for i, cs in got.items() if cs}, asked, [last[i] for i in sorted(last)]


def until_report(queries: list, sampled: dict, asked: dict, args, kind: str) -> dict:
    k, cap = args.until_correct, cap_of(args)
    per_bucket: dict[str, dict] = {}
    spent = Counter()
    reached = 0
    for i, q in enumerate(queries):
        texts = [c.text for c in sampled.get(i, [])]
        good = good_paths(q, texts, kind)
        reached += good >= k
        spent[asked[i]] += 1
        share = good / asked[i] if asked[i] else 0.0
        name = next(label for floor, label in BUCKETS if share >= floor)
        row = per_bucket.setdefault(name, {"queries": 0, "paths": 0, "reached_k": 0})
        row["queries"] += 1
        row["paths"] += asked[i]
        row["reached_k"] += good >= k
    for row in per_bucket.values():
        row["mean_paths"] = round(row["paths"] / row["queries"], 2)
    total = sum(asked.values())
    return {"method": "until k good paths (DART-Math, arXiv 2407.13690)", "k": k, "cap": cap,
            "per_round": args.paths, "queries": len(queries), "paths_spent": total,
            "mean_paths_per_query": round(total / len(queries), 2) if queries else None,
            "reached_k": reached, "paths_per_query": {str(n): c for n, c in sorted(spent.items())},
            "by_difficulty": {label: per_bucket[label] for _, label in BUCKETS if label in per_bucket}}
