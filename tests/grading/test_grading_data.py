"""Self-consistency of the grader on the real benchmarks (all of MATH test and GSM8K test).

Every gold must equal the answer extracted from its own reference solution, and must NOT equal the same
solution with its final answer perturbed. Reads $AUGMATH_DATA_DIR (laid out like ../shared/data); a missing
directory is a failure, never a skip.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

import pytest

from augmath import sources

from augmath import grading
from augmath.grading.boxed import last_boxed_span


@pytest.fixture(scope="module")
def data_dir() -> str:
    path = os.environ.get("AUGMATH_DATA_DIR")
    assert path, "AUGMATH_DATA_DIR is not set (CI points it at ../shared/data)"
    assert Path(path, "math", "test.jsonl.gz").is_file() and Path(path, "gsm8k", "test.jsonl").is_file(), \
        f"AUGMATH_DATA_DIR={path} does not hold math/test.jsonl.gz and gsm8k/test.jsonl"
    return path


def _bump_first_digit(answer: str) -> str:
    """A different answer: the first digit + 1 (the value, not a unit exponent like cm^2), or a new one."""
    m = re.search(r"\d", answer)
    if m is None:
        return "7"
    return answer[: m.start()] + str((int(m.group()) + 1) % 10) + answer[m.end():]


def test_math_test_golds_match_their_own_solutions(data_dir):
    recs = sources.load("math", "test", data_dir=data_dir)
    assert len(recs) == 5000
    verdicts = grading.grade_many([r.answer for r in recs], [r.solution for r in recs], "math", workers=2)
    wrong = [(r.id, r.answer, v) for r, v in zip(recs, verdicts) if not v.correct]
    assert not wrong, wrong[:10]
    assert all(v.extracted == r.answer for r, v in zip(recs, verdicts))


def test_math_test_golds_reject_perturbed_solutions(data_dir):
    recs = sources.load("math", "test", data_dir=data_dir)
    perturbed = []
    for r in recs:
        start, end = last_boxed_span(r.solution)
        perturbed.append(r.solution[:start] + _bump_first_digit(r.solution[start:end]) + r.solution[end:])
    verdicts = grading.grade_many([r.answer for r in recs], perturbed, "math", workers=2)
    accepted = [(r.id, r.answer, v.extracted) for r, v in zip(recs, verdicts) if v.correct]
    assert not accepted, accepted[:10]


def test_gsm8k_test_golds_match_their_own_solutions(data_dir):
    recs = sources.load("gsm8k", "test", data_dir=data_dir)
    assert len(recs) == 1319
    raw_golds = [r.solution.rsplit("####", 1)[1].strip() for r in recs]  # e.g. "1,450,000", commas kept
    assert any("," in g for g in raw_golds)
    for golds in ([r.answer for r in recs], raw_golds):
        verdicts = grading.grade_many(golds, [r.solution for r in recs], "gsm8k")
        wrong = [(r.id, g, v) for r, g, v in zip(recs, golds, verdicts) if not v.correct]
        assert not wrong, wrong[:10]


def test_gsm8k_test_golds_reject_perturbed_solutions(data_dir):
    recs = sources.load("gsm8k", "test", data_dir=data_dir)
    # the gold + 1, written exactly ('{:g}' would write 1450001 as '1.45e+06', which is 1450000: the gold itself)
    perturbed = [re.sub(r"####\s*(.*)$", lambda m: f"#### {Decimal(m.group(1).replace(',', '')) + 1}", r.solution)
                 for r in recs]
    verdicts = grading.grade_many([r.answer for r in recs], perturbed, "gsm8k")
    accepted = [(r.id, r.answer, v.extracted) for r, v in zip(recs, verdicts) if v.correct]
    assert not accepted, accepted[:10]
