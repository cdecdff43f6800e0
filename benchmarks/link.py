"""How well `augmath import` links questions to the train seed they were made from (augmath.augment.link).

Positives: the exact `numbers` and `reverse` rewrites (round 0) of the first --seeds GSM8K train seeds, each of
which must link to its own seed among all train seeds. Negatives: GSM8K test questions, which were made from no
train seed; their best score against train says where --min-link-score should sit. Prints accuracy, the score
distributions and the times to index the seeds and to link.

    AUGMATH_DATA_DIR=../shared/data python benchmarks/link.py --seeds 2000
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=2000, help="train seeds whose rewrites are linked")
    p.add_argument("--data-dir", default=os.environ.get("AUGMATH_DATA_DIR", "packaged"))
    args = p.parse_args()
    from augmath.augment.link import SeedLinker
    from augmath.augment.strategies import Reject, get
    from augmath.sources import load

    train = load("gsm8k", "train", args.data_dir)
    test = load("gsm8k", "test", args.data_dir)
    t = time.perf_counter()
    linker = SeedLinker(train)
    index_s = time.perf_counter() - t
    questions, truth = [], []
    for strategy in get("numbers,reverse"):
        for seed in train[: args.seeds]:
            try:
                q = strategy.exact(seed, 0)
            except Reject:
                continue
            if q is not None:
                questions.append(q.question)
                truth.append(seed.id)
    t = time.perf_counter()
    links = linker.link(questions)
    link_s = time.perf_counter() - t
    right = sum(link.record is not None and link.record.id == want for link, want in zip(links, truth))
    pos = np.array([link.score for link in links])
    neg = np.array([link.score for link in linker.link([r.question for r in test])])
    print(f"seeds indexed: {len(train):,} in {index_s:.1f} s; rewrites linked: {len(questions):,} in {link_s:.1f} s")
    print(f"linked to their own seed: {right:,} / {len(questions):,}")
    print("rewrite scores  min {:.2f}  p1 {:.2f}  p5 {:.2f}  median {:.2f}".format(*np.percentile(pos, [0, 1, 5, 50])))
    print("test->train     median {:.2f}  p90 {:.2f}  p99 {:.2f}  max {:.2f}".format(
        *np.percentile(neg, [50, 90, 99, 100])), f" share >= 0.5: {(neg >= 0.5).mean():.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
