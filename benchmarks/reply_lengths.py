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
LIMITS = {"gsm8k": 400, "math": 1024}  # the default --max-tokens before issue #27 (still: the embedded server)
PAPER_FACTOR = 5  # augmath.augment.queries.PAPER_TOKENS_FACTOR


def endpoint_limits() -> dict:
    from augmath.augment.run import MAX_TOKENS

    return MAX_TOKENS["endpoint"]  # the default with a model at a URL (issue #27)


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

    new = endpoint_limits()
    print("| replies | tokens p50 | p95 | max | cut off at 400 / 1024 (x5 paper) | cut off at "
          f"{new['gsm8k']} / {new['math']} (endpoint default) |\n|---|---|---|---|---|---|")

    def row(name: str, lengths: list[int], source: str, factor: int = 1) -> None:
        lengths = sorted(lengths)
        print(f"| {name} | {statistics.median(lengths):.0f} | {lengths[int(0.95 * (len(lengths) - 1))]} | "
              f"{lengths[-1]} | {share_over(lengths, LIMITS[source] * factor)} | "
              f"{share_over(lengths, new[source] * factor)} |")

    rows = [json.loads(line) for line in CORPUS.read_text().splitlines() if line]
    for style in ("per-strategy", "paper"):
        for source in ("gsm8k", "math"):
            row(f"corpus {style} {source}", [n(r["reply"]) for r in rows
                                             if r["style"] == style and r["source"] == source],
                source, PAPER_FACTOR if style == "paper" else 1)
    for source in ("gsm8k", "math"):
        records = [r for r in load(source, "train", args.data_dir)[:args.limit] if r.solution]
        q = [n(r.question) for r in records]
        s = [n(r.solution) for r in records]
        for f in (1, 2, 3):
            replies = [int(a + f * b) + 20 for a, b in zip(q, s)]  # + a label line or two
            row(f"verbose x{f} {source} sampled path", [int(f * x) for x in s], source)
            row(f"verbose x{f} {source} query reply (question + solution)", replies, source)
            if source == "math":  # five consecutive items (not sorted: a random mix of lengths)
                row(f"verbose x{f} math paper reply (five items)",
                    [sum(replies[i:i + 5]) + 60 for i in range(0, len(replies) - 4, 5)], source, PAPER_FACTOR)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
