"""Exact and near-duplicate removal for generated rows, across the rows themselves and against their seeds.

    kept, dropped = dedup_rows(rows, seeds=seed_records, key="question", threshold=0.8)

Rows are visited in order and the first of a group is kept. A dropped row is a copy with
    reason:       "same-as-seed" (exact or near copy of a seed question), "duplicate-exact" (same normalised
                  text as an earlier kept row) or "duplicate-near" (word-trigram Jaccard >= threshold);
    duplicate_of: the seed's id, or the earlier row's `id` (its position when rows have no id);
    similarity:   the Jaccard similarity (1.0 for exact copies).

Normalised text: lower-cased, whitespace collapsed, digits kept, every symbol a word of its own ("k < 0" and
"k > 0" differ). The math must match by default (strict_math): questions that differ only in their numbers
are different problems with different answers (that is what the `numbers` strategy makes), and so are
"what is the value of $x$" and "... of $y$", so a near-duplicate must also carry the same numbers and the
same $...$ formulas (spaces ignored).

Near duplicates are found exactly, without hashing luck: an all-pairs similarity join with prefix filtering
(Bayardo et al. 2007). Each question's word trigrams are ordered rarest first; two sets with Jaccard >= t
must share one of the first |s| - ceil(t*|s|) + 1 trigrams of each, so only rows sharing such a rare trigram
are compared, and each candidate pair is confirmed with its exact Jaccard similarity. On GSM8K-sized rows
this is faster than MinHash LSH and has no false negatives.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from augmath.decontam.ngrams import ngram_hashes, text_hashes, word_hashes

NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
FORMULA = re.compile(r"\$+([^$]+)\$+")


def _shingles(texts: Sequence[str]):
    """Per text: sorted distinct word-trigram hashes (a 1-2 word text: its words), the same trigrams ordered
    rarest first (for the prefix filter), and a hash of the whole normalised text (for exact copies)."""
    words, offsets = word_hashes(texts, symbols=True)
    grams, doc = ngram_hashes(words, offsets, 3)
    short = np.flatnonzero(np.diff(offsets) < 3)
    if len(short):  # too short for a trigram: use the words themselves
        extra = np.concatenate([np.arange(offsets[i], offsets[i + 1]) for i in short])
        grams = np.concatenate([grams, words[extra]])
        doc = np.concatenate([doc, np.repeat(short, np.diff(offsets)[short])])
    order = np.lexsort((grams, doc))
    grams, doc = grams[order], doc[order]
    distinct = np.ones(len(grams), bool)
    distinct[1:] = (grams[1:] != grams[:-1]) | (doc[1:] != doc[:-1])
    grams, doc = grams[distinct], doc[distinct]
    _, inverse, freq = np.unique(grams, return_inverse=True, return_counts=True)
    rare_first = np.lexsort((grams, freq[inverse], doc))
    bounds = np.searchsorted(doc, np.arange(len(texts) + 1))
    sets = [grams[bounds[i]:bounds[i + 1]] for i in range(len(texts))]
    ranked = grams[rare_first]
    prefixes = [ranked[bounds[i]:bounds[i + 1]] for i in range(len(texts))]
    return sets, prefixes, text_hashes(words, offsets).tolist()


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter) if (len(a) or len(b)) else 1.0


def _seed_id_and_text(seed: Any, i: int) -> tuple[str, str]:
    if isinstance(seed, str):
        return f"seed:{i}", seed
    if isinstance(seed, dict):
        return str(seed.get("id", f"seed:{i}")), seed.get("question") or seed.get("query") or ""
    return str(getattr(seed, "id", f"seed:{i}")), getattr(seed, "question")


def dedup_rows(rows: Sequence[dict], seeds: Iterable = (), key: str | Callable[[dict], str] = "question",
               threshold: float = 0.8, strict_math: bool = True,
               among_rows: bool = True) -> tuple[list[dict], list[dict]]:
    """(kept rows, dropped rows with reason / duplicate_of / similarity); see the module docstring.
    among_rows=False compares each row with the seeds only, never with other rows (a shard of a run: the
    rows of all shards are deduplicated against each other when they are built together)."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    get = key if callable(key) else (lambda row: row[key])
    texts = []
    for i, row in enumerate(rows):
        try:
            text = get(row)
        except (KeyError, TypeError):
            raise ValueError(f"row {i} has no {key!r} field") from None
        if not isinstance(text, str):
            raise ValueError(f"row {i}: field {key!r} should be a string, got {type(text).__name__}")
        texts.append(text)
    seed_pairs = [_seed_id_and_text(s, i) for i, s in enumerate(seeds)]
    all_texts = [t for _, t in seed_pairs] + texts
    sets, ranked, whole = _shingles(all_texts)
    maths: dict[int, tuple] = {}

    def math_of(i: int) -> tuple:
        if i not in maths:
            text = all_texts[i]
            maths[i] = (sorted(n.replace(",", "") for n in NUMBER.findall(text)),
                        sorted("".join(f.split()) for f in FORMULA.findall(text)))
        return maths[i]

    owner_ids = [sid for sid, _ in seed_pairs] + [str(r.get("id", i)) if isinstance(r, dict) else str(i)
                                                   for i, r in enumerate(rows)]
    n_seeds = len(seed_pairs)
    exact_owner: dict[int, int] = {}
    postings: dict[int, list[int]] = {}  # prefix trigram -> rows/seeds already kept that have it in their prefix
    kept, dropped = [], []
    for j in range(len(all_texts)):
        size = len(sets[j])
        prefix = ranked[j][: size - math.ceil(threshold * size) + 1].tolist()
        match, sim = exact_owner.get(whole[j]), 1.0
        if match is None:
            sim, seen = 0.0, set()
            for g in prefix:
                for other in postings.get(g, ()):
                    if other in seen:
                        continue
                    seen.add(other)
                    other_size = len(sets[other])
                    if not threshold * size <= other_size <= size / threshold:
                        continue  # sizes alone rule out Jaccard >= threshold
                    s = _jaccard(sets[j], sets[other])
                    if s >= threshold and s > sim and (not strict_math or math_of(other) == math_of(j)):
                        sim, match = s, other
        if match is None or j < n_seeds:  # a seed is never dropped, only compared against
            if j < n_seeds or among_rows:
                exact_owner.setdefault(whole[j], j)
                for g in prefix:
                    postings.setdefault(g, []).append(j)
            if j >= n_seeds:
                kept.append(rows[j - n_seeds])
            continue
        row = rows[j - n_seeds]
        reason = ("same-as-seed" if match < n_seeds else
                  "duplicate-exact" if whole[match] == whole[j] else "duplicate-near")
        dropped.append({**row, "reason": reason, "duplicate_of": owner_ids[match], "similarity": round(sim, 4)})
    return kept, dropped
