"""Decontamination benchmark: n-gram throughput against open-r1's approach, embedding speed, detection quality.

    python benchmarks/decontamination.py --data-dir ../shared/data            # everything
    python benchmarks/decontamination.py --skip-quality                        # throughput only (no model)

1. Throughput. 1,000,000 synthetic queries (sentences of real GSM8K/MATH train questions recombined, 1% real
   test items with their numbers changed) through the n-gram stage against every evaluation set, on 1 and
   on `--workers` processes, and through the baseline in the same run: open-r1's scripts/decontaminate.py
   logic (normalise, build the set of 13-gram strings per query, test each against a dict built from the
   evaluation sets), on one process and on `--workers` processes.
2. Quality. Real test items from every evaluation set with one light edit each (numbers changed, words
   swapped, sentences reordered, rephrased: augmath.decontam.edits), planted among real GSM8K and MATH train
   questions (--seed picks both; the defaults were tuned on seed 0 and checked on seed 1). Recall and
   precision for the lexical stages, the embedding stage, the fuzzy stage and their combinations, at the
   default thresholds and a few others, and the model stages' queries/s. MATH train holds genuine
   near-copies of MATH test items (and GSM8K train retells some MAWPS/ASDiv items); a flagged train question
   counts as a false positive in "strict" precision, and as a true near-copy in "adjudicated" precision when
   its token sequence (numbers masked) is >= 80% similar (difflib ratio) to the test item it was matched to
   ("at 0.9": >= 90%).
"""

from __future__ import annotations

import argparse
import collections
import difflib
import multiprocessing
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from augmath import sources  # noqa: E402
from augmath.decontam.run import CONFIRM_COSINE, CONFIRM_WORDS, FUZZY_CANDIDATES, Decontaminator  # noqa: E402
from augmath.decontam.edits import EDITS, SENTENCE, numbers_changed, plant  # noqa: E402
from augmath.decontam.ngrams import reference_tokens  # noqa: E402


# --- the baseline: open-r1 scripts/decontaminate.py, per-query Python sets of n-gram strings ---

def normalize_string(text: str) -> str:
    text = text.lower().strip()
    return " ".join(text.split())


def word_ngrams(text: str, n: int) -> list:
    words = text.split()
    return [" ".join(words[i: i + n]) for i in range(len(words) - n + 1)]


def build_ngram_lookup(documents: list[str], ngram_size: int) -> dict[str, set[int]]:
    lookup = collections.defaultdict(set)
    for doc_id, document in enumerate(documents):
        for ngram in word_ngrams(normalize_string(document), ngram_size):
            lookup[ngram].add(doc_id)
    return lookup


_BASE: tuple | None = None


def _baseline_chunk(span: tuple[int, int]) -> list[bool]:
    lookup, queries, n = _BASE
    return [any(g in lookup for g in set(word_ngrams(normalize_string(q), n))) for q in queries[span[0]:span[1]]]


def baseline(lookup, queries, n, workers):
    global _BASE
    _BASE = (lookup, queries, n)
    spans = [(a, min(a + 20000, len(queries))) for a in range(0, len(queries), 20000)]
    if workers == 1:
        parts = [_baseline_chunk(s) for s in spans]
    else:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            parts = pool.map(_baseline_chunk, spans, chunksize=1)
    _BASE = None
    return [x for p in parts for x in p]


def synthetic_queries(count: int, train: list[str], tests: list[str], rng: np.random.Generator) -> list[str]:
    sentences = [s for t in train for s in SENTENCE.split(t) if s.strip()]
    edited = [numbers_changed(t, random.Random(i)) or t for i, t in enumerate(tests)]
    lengths = rng.integers(1, 5, count)
    picks = rng.integers(0, len(sentences), lengths.sum())
    ends = np.cumsum(lengths)
    out = [" ".join(sentences[j] for j in picks[e - k:e]) for e, k in zip(ends.tolist(), lengths.tolist())]
    for i in rng.choice(count, count // 100, replace=False).tolist():
        out[i] = edited[i % len(edited)]
    return out


def throughput(args, evals, train) -> None:
    rng = np.random.default_rng(0)
    t = time.perf_counter()
    queries = synthetic_queries(args.queries, train, [r.question for r in evals], rng)
    print(f"[throughput] {len(queries):,} synthetic queries, {sum(map(len, queries)) / 1e6:.0f} MB of text, "
          f"built in {time.perf_counter() - t:.1f}s; {len(evals):,} evaluation items; n={args.ngram}; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    t = time.perf_counter()
    deco = Decontaminator(evals, ngram=args.ngram, embed_threshold=None)
    print(f"  ours: index built in {time.perf_counter() - t:.2f}s ({len(deco.index.keys):,} distinct n-grams)")
    t = time.perf_counter()
    lookup = build_ngram_lookup([r.question for r in evals], args.ngram)
    print(f"  baseline: lookup built in {time.perf_counter() - t:.2f}s ({len(lookup):,} n-gram strings)")
    rates = {}
    for name, fn in [("baseline, 1 process", lambda: baseline(lookup, queries, args.ngram, 1)),
                     (f"baseline, {args.workers} processes", lambda: baseline(lookup, queries, args.ngram, args.workers)),
                     ("ours, 1 process", lambda: deco.lexical_flags(queries, workers=1)),
                     (f"ours, {args.workers} processes", lambda: deco.lexical_flags(queries, workers=args.workers))]:
        t = time.perf_counter()
        result = fn()
        dt = time.perf_counter() - t
        rates[name] = len(queries) / dt
        hits = sum(bool(x) for x in result)
        print(f"  {name:<24} {dt:7.2f}s  {rates[name]:>10,.0f} queries/s  flagged {hits:,}")
    base1, base_n = rates["baseline, 1 process"], rates[f"baseline, {args.workers} processes"]
    ours_n, ours1 = rates[f"ours, {args.workers} processes"], rates["ours, 1 process"]
    print(f"  ratio ours ({args.workers} proc) / baseline (1 proc): {ours_n / base1:.1f}x   (target >= 3x)")
    print(f"  ratio ours ({args.workers} proc) / baseline ({args.workers} proc): {ours_n / base_n:.1f}x;  "
          f"per process: {ours1 / base1:.1f}x")
    print("  (the baseline flags any shared 13-gram of raw lower-cased words; ours masks numbers, drops "
          "punctuation and flags >= 50% overlap or an exact short match, so the flagged counts differ)")


def _metrics(flags, n_pos, near_copy, n_gsm):
    """recall, precision strict, precision adjudicated at difflib >= 0.8 and >= 0.9, train flagged, GSM8K share."""
    pos, neg = flags[:n_pos], flags[n_pos:]
    tp = sum(f is not None for f in pos)
    fp_strict = sum(f is not None for f in neg)
    fp_gsm = sum(f is not None for f in neg[:n_gsm])
    ratios = [near_copy(i, f) for i, f in enumerate(neg) if f is not None]
    flagged = max(tp + fp_strict, 1)
    return {"recall": tp / n_pos, "strict": tp / flagged, "adj80": (tp + sum(r >= 0.8 for r in ratios)) / flagged,
            "adj90": (tp + sum(r >= 0.9 for r in ratios)) / flagged, "fp": fp_strict, "fp_gsm": fp_gsm,
            "genuine": sum(r >= 0.8 for r in ratios)}


def quality(args, evals, gsm_train, math_train) -> None:
    rng = random.Random(args.seed)
    deco = Decontaminator(evals, ngram=args.ngram)
    t = time.perf_counter()
    deco.eval_vectors()
    print(f"[quality] evaluation vectors ready in {time.perf_counter() - t:.1f}s "
          f"({len(deco.texts):,} distinct texts; cached under {os.environ.get('AUGMATH_CACHE_DIR', '~/.cache/augmath')})")
    pool = [r for r in evals if r.source != "math500"]  # MATH-500 items are MATH test items
    planted = plant(rng.sample(pool, args.positives), rng)
    negatives = rng.sample(gsm_train, args.negatives // 2) + rng.sample(math_train, args.negatives - args.negatives // 2)
    texts = [t for _, t, _ in planted] + [r.question for r in negatives]
    eval_text = {ids[0][1]: t for t, ids in zip(deco.texts, deco.holders)}

    def near_copy(i, flag):  # how close a flagged train question is to the item it matched (numbers masked)
        return difflib.SequenceMatcher(None, reference_tokens(negatives[i].question),
                                       reference_tokens(eval_text[flag.eval_id])).ratio()
    lexical = deco.lexical_flags(texts)
    t = time.perf_counter()
    best, sims = deco.neighbours(texts, FUZZY_CANDIDATES)
    dt = time.perf_counter() - t
    print(f"  embedding stage: {len(texts)} queries in {dt:.1f}s = {len(texts) / dt:.1f} queries/s "
          f"(all-MiniLM-L6-v2, CPU, torch threads {__import__('torch').get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f})")
    kinds = [k for k, _, _ in planted]
    print(f"  {len(planted)} planted ({dict(collections.Counter(kinds))}) among {len(negatives)} train questions "
          f"({args.negatives // 2} GSM8K, {args.negatives - args.negatives // 2} MATH); seed {args.seed}")
    default = (deco.embed_threshold, deco.math_embed_threshold, deco.fuzzy_threshold)
    settings = sorted({*zip(args.thresholds[0::2], args.thresholds[1::2], [default[2]] * len(args.thresholds)),
                       *((default[0], default[1], f) for f in args.fuzzy_thresholds), default})
    for word_t, math_t, fuzzy_t in settings:
        deco.embed_threshold, deco.math_embed_threshold, deco.fuzzy_threshold = word_t, math_t, fuzzy_t
        emb = [deco._flag("embedding", js[0], cs[0]) if deco.embedding_hit(q, js[0], cs[0]) else None
               for q, js, cs in zip(texts, best.tolist(), sims.tolist())]
        t = time.perf_counter()
        fuzzy = [deco._flag("fuzzy", *hit) if (hit := deco.fuzzy_hit(q, js, cs)) else None
                 for q, js, cs in zip(texts, best.tolist(), sims.tolist())]
        fuzzy_s = time.perf_counter() - t
        mark = "  <- default" if (word_t, math_t, fuzzy_t) == default else ""
        print(f"  thresholds: embedding word problems {word_t:.2f} (or {CONFIRM_COSINE} with >= {CONFIRM_WORDS:.0%} "
              f"shared words), MATH {math_t:.2f}; fuzzy {fuzzy_t:.2f} ({len(texts) / fuzzy_s:.0f} queries/s){mark}")
        stages = [("lexical (exact+13-gram)", lexical), ("embedding", emb), ("fuzzy", fuzzy),
                  ("lexical+embedding", [a or b for a, b in zip(lexical, emb)]),
                  ("combined (all four)", [a or b or c for a, b, c in zip(lexical, emb, fuzzy)])]
        for name, flags in stages:
            m = _metrics(flags, len(planted), near_copy, args.negatives // 2)
            per_kind = {k: round(float(np.mean([f is not None for f, kk in zip(flags, kinds) if kk == k])), 3)
                        for k in EDITS}
            print(f"    {name:<24} recall {m['recall']:.3f}  precision strict {m['strict']:.3f} adjudicated "
                  f"{m['adj80']:.3f} (at 0.9: {m['adj90']:.3f})  train flagged {m['fp']}: GSM8K {m['fp_gsm']}, "
                  f"MATH {m['fp'] - m['fp_gsm']}; near-copies {m['genuine']}  recall by edit {per_kind}")
    deco.embed_threshold, deco.math_embed_threshold, deco.fuzzy_threshold = default
    if args.show:
        flags = deco.embedding_flags(texts[len(planted):])
        for i, r in enumerate(negatives):
            f = lexical[len(planted) + i] or flags[i]
            if f is not None:
                print(f"    train {r.id} {f.stage} {f.score}: {r.question[:90]!r}"
                      f"\n      ~ {f.eval_id}: {eval_text[f.eval_id][:90]!r}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("AUGMATH_DATA_DIR", "../shared/data"))
    p.add_argument("--queries", type=int, default=1_000_000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--ngram", type=int, default=13)
    p.add_argument("--positives", type=int, default=400)
    p.add_argument("--negatives", type=int, default=2000)
    p.add_argument("--thresholds", type=float, nargs="*", default=[0.85, 0.88, 0.88, 0.88, 0.95, 0.95],
                   help="pairs: word-problem threshold, MATH threshold (the defaults are always shown)")
    p.add_argument("--fuzzy-thresholds", type=float, nargs="*", default=[1.9, 2.1],
                   help="fuzzy-stage thresholds to show besides the default")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--skip-quality", action="store_true")
    p.add_argument("--show", action="store_true", help="print the train questions each stage flags")
    args = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    evals = [r for name, split in sources.EVAL_SETS for r in sources.load(name, split, args.data_dir)]
    gsm_train = sources.load("gsm8k", "train", args.data_dir)
    math_train = sources.load("math", "train", args.data_dir)
    if not args.skip_throughput:
        throughput(args, evals, [r.question for r in gsm_train + math_train])
    if not args.skip_quality:
        quality(args, evals, gsm_train, math_train)
    return 0


if __name__ == "__main__":
    sys.exit(main())
