"""How often a long but valid reply would be cut off (finish_reason "length") at `augmath augment`'s
max_tokens, counted with the SmolLM2 tokenizer (the embedded model's GGUF, read by transformers).

    python benchmarks/reply_lengths.py [--data-dir ../shared/data]

Two sources of lengths:
- the reply corpus (tests/data/query_replies.jsonl): every reply as written, per style and source;
- verbose replies, modelled from the benchmarks' own reference texts: a strong instruct model writes its
  solutions about 1-3x as long as the GSM8K/MATH references (factor f below). A per-strategy MATH reply is
  problem + f x solution, a paper-style MATH reply five of those, a sampled path f x solution, a GSM8K query
  reply question + f x solution (a model that solves the problem although told not to).
Printed: the share of each that exceeds the limit today (400 GSM8K / 1024 MATH per call, 5x for a paper reply).
docs/augment.md shows the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "query_replies.jsonl"
LIMITS = {"gsm8k": 400, "math": 1024}  # augmath.augment.run: the default --max-tokens per source
PAPER_FACTOR = 5  # augmath.augment.queries.PAPER_TOKENS_FACTOR


def tokenizer():
    from transformers import AutoTokenizer

    from augmath.engine import default_model_path

    gguf = Path(default_model_path())
    return AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)


def share_over(lengths: list[int], limit: int) -> str:
    over = sum(n > limit for n in lengths)
    return f"{over / len(lengths):.1%} ({over}/{len(lengths)})"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default="packaged", help="benchmark files (default: the packaged samples)")
    p.add_argument("--limit", type=int, default=2000, help="reference rows per source (default 2000)")
    args = p.parse_args()
    from augmath.sources import load

    tok = tokenizer()

    def n(text: str) -> int:
        return len(tok(text, add_special_tokens=False)["input_ids"])

    print("| replies | tokens p50 | p95 | max | limit | cut off |\n|---|---|---|---|---|---|")
    rows = [json.loads(line) for line in CORPUS.read_text().splitlines() if line]
    for style in ("per-strategy", "paper"):
        for source in ("gsm8k", "math"):
            lengths = sorted(n(r["reply"]) for r in rows if r["style"] == style and r["source"] == source)
            limit = LIMITS[source] * (PAPER_FACTOR if style == "paper" else 1)
            print(f"| corpus {style} {source} | {statistics.median(lengths):.0f} | "
                  f"{lengths[int(0.95 * (len(lengths) - 1))]} | {lengths[-1]} | {limit} | {share_over(lengths, limit)} |")
    for source in ("gsm8k", "math"):
        records = [r for r in load(source, "train", args.data_dir)[:args.limit] if r.solution]
        q = [n(r.question) for r in records]
        s = [n(r.solution) for r in records]
        limit = LIMITS[source]
        for f in (1, 2, 3):
            paths = sorted(int(f * x) for x in s)
            unsorted = [int(a + f * b) + 20 for a, b in zip(q, s)]  # + a label line or two
            replies = sorted(unsorted)
            print(f"| verbose x{f} {source} sampled path | {statistics.median(paths):.0f} | "
                  f"{paths[int(0.95 * (len(paths) - 1))]} | {paths[-1]} | {limit} | {share_over(paths, limit)} |")
            print(f"| verbose x{f} {source} query reply (question + solution) | {statistics.median(replies):.0f} | "
                  f"{replies[int(0.95 * (len(replies) - 1))]} | {replies[-1]} | {limit} | "
                  f"{share_over(replies, limit)} |")
            if source == "math":
                fives = sorted(sum(unsorted[i:i + 5]) + 60 for i in range(0, len(unsorted) - 4, 5))
                print(f"| verbose x{f} math paper reply (five items) | {statistics.median(fives):.0f} | "
                      f"{fives[int(0.95 * (len(fives) - 1))]} | {fives[-1]} | {limit * PAPER_FACTOR} | "
                      f"{share_over(fives, limit * PAPER_FACTOR)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
