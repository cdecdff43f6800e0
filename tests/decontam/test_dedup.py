"""dedup_rows on real GSM8K / MATH questions: exact, near and same-as-seed copies go, real variants stay."""

from __future__ import annotations

import itertools
import os
import random
from pathlib import Path

import pytest

from augmath import sources
from augmath.decontam.edits import numbers_changed
from augmath.decontam.dedup import _shingles, dedup_rows


@pytest.fixture(scope="module")
def seeds() -> list:
    root = os.environ.get("AUGMATH_DATA_DIR")
    if not root or not Path(root, "gsm8k/train.jsonl.gz").exists():
        pytest.fail("AUGMATH_DATA_DIR must point at the benchmark data (../shared/data); it is missing")
    return sources.load("gsm8k", "train", root)


def _one_word_changed(text: str) -> str:
    return text.replace(" the ", " a ", 1) if " the " in text else text.replace(" a ", " one ", 1)


def test_copies_of_seeds_and_of_earlier_rows_are_dropped_with_reason_and_source(seeds):
    long_seeds = [s for s in seeds if len(s.question.split()) >= 40 and any(c.isdigit() for c in s.question)][:50]
    rng = random.Random(0)
    rows = [{"id": f"{s.id}/numbers", "question": numbers_changed(s.question, rng)} for s in long_seeds[:20]]
    rows.append({"id": "copy-of-seed", "question": "  " + long_seeds[30].question.upper() + "  "})
    rows.append({"id": "near-seed", "question": _one_word_changed(long_seeds[31].question)})
    rows.append({"id": "again", "question": rows[0]["question"].replace(".", " .")})
    rows.append({"id": "near-row", "question": _one_word_changed(rows[1]["question"])})
    kept, dropped = dedup_rows(rows, seeds=seeds)
    assert [r["id"] for r in kept] == [r["id"] for r in rows[:20]]  # number variants are new problems
    why = {d["id"]: (d["reason"], d["duplicate_of"]) for d in dropped}
    assert why == {"copy-of-seed": ("same-as-seed", long_seeds[30].id),
                   "near-seed": ("same-as-seed", long_seeds[31].id),
                   "again": ("duplicate-exact", rows[0]["id"]),
                   "near-row": ("duplicate-near", rows[1]["id"])}
    near = next(d for d in dropped if d["id"] == "near-row")
    assert 0.8 <= near["similarity"] < 1.0 and near["question"] == rows[-1]["question"]


def test_real_distinct_questions_are_all_kept(seeds):
    math = sources.load("math", "train", os.environ["AUGMATH_DATA_DIR"], limit=1500)
    rows = [{"question": s.question} for s in seeds[:3000]] + [{"question": r.question} for r in math]
    kept, dropped = dedup_rows(rows)
    # No two are the same problem. MATH siblings that differ in one symbol or number stay: "k < 0" / "k > 0",
    # graphs whose Asymptote code differs, "what is the value of $x$" / "... $y$".
    assert len(kept) == len(rows) - 1 and len(dropped) == 1
    # ... but this pair differs only in wording around the same formulas: a real near-duplicate.
    assert "passes through the vertex of the parabola" in dropped[0]["question"]
    assert "vertex of parabola $y=x^2+a^2$" in rows[int(dropped[0]["duplicate_of"])]["question"]


def test_prefix_filter_finds_every_pair_a_brute_force_search_finds(seeds):
    """No false negatives: compare with all-pairs exact Jaccard on a set full of near copies."""
    rng = random.Random(5)
    base = [s.question for s in seeds[:60]]
    texts = base + [_one_word_changed(t) for t in base[:30]] + [t.replace(",", " ,") for t in base[30:50]]
    texts += [" ".join(t.split()[:-2]) for t in base[:40]]  # truncated copies, some above 0.8, some below
    rng.shuffle(texts)
    for threshold in (0.6, 0.8, 0.9):
        sets = [set(s.tolist()) for s in _shingles(texts)[0]]
        expected_dropped = set()
        kept_so_far: list[int] = []
        for j in range(len(texts)):
            if any(len(sets[j] & sets[k]) / len(sets[j] | sets[k]) >= threshold for k in kept_so_far):
                expected_dropped.add(j)
            else:
                kept_so_far.append(j)
        kept, dropped = dedup_rows([{"id": i, "question": t} for i, t in enumerate(texts)], threshold=threshold,
                                   strict_math=False)
        assert {d["id"] for d in dropped} == expected_dropped, threshold


def test_strict_math_unless_told_otherwise(seeds):
    q = next(s.question for s in seeds if len(s.question.split()) > 60 and sum(c.isdigit() for c in s.question) == 2)
    digit = next(c for c in q if c.isdigit())
    variant = q.replace(digit, str((int(digit) + 1) % 10), 1)
    rows = [{"question": q}, {"question": variant}]
    assert len(dedup_rows(rows)[0]) == 2
    kept, dropped = dedup_rows(rows, strict_math=False)
    assert len(kept) == 1 and dropped[0]["reason"] == "duplicate-near" and dropped[0]["duplicate_of"] == "0"


def test_seeds_may_be_records_dicts_or_strings_and_bad_rows_are_named(seeds):
    q = seeds[0].question
    for seed in (seeds[0], {"id": seeds[0].id, "question": q}, q):
        _, dropped = dedup_rows([{"question": q}], seeds=[seed])
        assert dropped[0]["reason"] == "same-as-seed"
    assert dedup_rows([{"question": q}], seeds=[q])[1][0]["duplicate_of"] == "seed:0"
    with pytest.raises(ValueError, match="row 1 has no 'question'"):
        dedup_rows([{"question": q}, {"query": q}])
    with pytest.raises(ValueError, match="threshold"):
        dedup_rows([], threshold=0)
    assert dedup_rows([{"q": "a b c"}, {"q": "A b, c!"}], key="q")[1][0]["reason"] == "duplicate-exact"
    assert list(itertools.chain(*dedup_rows([]))) == []
