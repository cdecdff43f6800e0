"""Kept-clean rate of augmath's query parser on the reply corpus (tests/data/query_replies.jsonl), per format.

    python benchmarks/query_replies.py [--details]
    PYTHONPATH=/path/to/older/checkout python benchmarks/query_replies.py   # the same corpus, an older parser

Every reply goes through the real parser (the strategy's `parse`, or the paper prompt's) and the pipeline's
framing check (augmath.augment.queries.parse_queries). Per (reply, strategy) the outcome is
    clean     kept, with exactly the expected question (whitespace aside)
    polluted  kept, with any other text: the failure that matters most (it reaches the training data)
    dropped   not kept although the reply holds a valid question (the reason is printed with --details)
and, for the corpus' replies holding no usable question, whether they were dropped with the expected reason.
docs/augment.md shows this table.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "query_replies.jsonl"


def outcomes(rows: list[dict]) -> list[dict]:
    """One outcome per (row, strategy): {id, format, style, source, strategy, outcome, got, reason}."""
    try:
        from augmath.augment.replies import framing
    except ImportError:  # an augmath from before the framing check (PYTHONPATH=an older checkout: the baseline)
        def framing(question, seed=""):
            return None
    from augmath.augment.strategies import EVOLUTION, REGISTRY, Reject
    from augmath.augment.strategies.paper import PAPER
    from augmath.sources import load

    seeds = {r.id: r for source in ("gsm8k", "math") for r in load(source, "train", "packaged")}
    out = []
    for row in rows:
        seed = seeds[row["seed_id"]]
        if row["strategy"] == "paper":
            results = PAPER.parse(seed, row["reply"], 0, "m", {}, EVOLUTION)
        else:
            try:
                results = {row["strategy"]: REGISTRY[row["strategy"]].parse(seed, row["reply"], 0, "m", {})}
            except Reject as e:
                results = {row["strategy"]: e}
        for name, expected in row["expected"].items():
            got = results[name]
            if not isinstance(got, Reject) and framing(got.question, seed.question):
                got = Reject(f"reply framing left in the question ({framing(got.question, seed.question)})")
            kept = None if isinstance(got, Reject) else got.question
            reason = str(got) if isinstance(got, Reject) else None
            if expected is None:
                outcome = "dropped as expected" if reason == row["reasons"][name] else (
                    "wrong drop reason" if reason else "kept a reply with no question")
            elif kept is None:
                outcome = "dropped"
            else:
                outcome = "clean" if " ".join(kept.split()) == " ".join(expected.split()) else "polluted"
            out.append({"id": row["id"], "format": row["format"], "style": row["style"], "source": row["source"],
                        "strategy": name, "outcome": outcome, "got": kept, "reason": reason, "expected": expected})
    return out


def table(results: list[dict]) -> str:
    by_format: dict[tuple, Counter] = defaultdict(Counter)
    for r in results:
        if r["expected"] is not None:
            fmt = re.sub(r"_\d+$", "", r["format"])  # hand-written replies (handwritten_3, heldout_1): one row
            by_format[(r["style"], r["source"], fmt)][r["outcome"]] += 1
    lines = ["| style | source | format | replies | kept clean | polluted | dropped |", "|---|---|---|---|---|---|---|"]
    total = Counter()
    for (style, source, fmt), c in sorted(by_format.items()):
        n = sum(c.values())
        total.update(c)
        lines.append(f"| {style} | {source} | {fmt} | {n} | {c['clean'] / n:.0%} | {c['polluted']} | {c['dropped']} |")
    n = sum(total.values())
    lines.append(f"| **all** | | | {n} | **{total['clean'] / n:.1%}** | {total['polluted']} | {total['dropped']} |")
    drops = Counter(r["outcome"] for r in results if r["expected"] is None)
    lines.append("")
    lines.append(f"replies with no usable question: {sum(drops.values())}, dropped with the expected reason: "
                 f"{drops['dropped as expected']}")
    return "\n".join(lines)


def real_questions(data_dir: str) -> str:
    """Every train question of GSM8K and MATH written back as a plain reply (to another seed): how many come
    back unchanged, and why the others do not (the unwrapping must take off nothing a problem holds)."""
    from collections import Counter

    from augmath.augment.strategies import Reject
    from augmath.augment.strategies.evolve import clean_question
    from augmath.sources import load

    lines = ["| source | questions | unchanged | changed | dropped (reasons) |", "|---|---|---|---|---|"]
    for source in ("gsm8k", "math"):
        records = load(source, "train", data_dir)
        counts: Counter = Counter()
        for r in records[1:]:
            try:
                got = clean_question(r.question, records[0], "x", need_question_mark=source == "gsm8k")
                counts["unchanged" if got == " ".join(r.question.split()) else "changed"] += 1
            except Reject as e:
                counts[str(e)] += 1
        reasons = ", ".join(f"{k} {v}" for k, v in counts.items() if k not in ("unchanged", "changed"))
        lines.append(f"| {source} | {len(records) - 1} | {counts['unchanged']} | {counts['changed']} | {reasons} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--details", action="store_true", help="also list every reply not kept clean")
    p.add_argument("--real", metavar="DATA_DIR", default=None,
                   help="also write every train question of DATA_DIR (or 'packaged') back as a plain reply")
    args = p.parse_args()
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    results = outcomes(rows)
    print(table(results))
    if args.real:
        print("\n" + real_questions(args.real))
    if args.details:
        for r in results:
            if r["outcome"] not in ("clean", "dropped as expected"):
                print(f"\n{r['outcome']}: {r['id']} [{r['strategy']}] reason={r['reason']}\n  got:      {r['got']}"
                      f"\n  expected: {r['expected']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
