"""The grader under stress: pathological inputs, per-item timeouts, threads, worker processes, dead workers."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

from augmath import grading
from augmath.grading.pool import shared_pool

TIMEOUT = 2.0
SLACK = 6.0  # process scheduling on a busy 2-core machine; the point is "seconds, not minutes or forever"

PATHOLOGICAL = {
    "10k-digit number": "\\boxed{" + "7" * 10_000 + "}",
    "10k-digit plain": "The answer is " + "7" * 10_000,
    "deeply nested fractions": "\\boxed{" + "\\frac{" * 3000 + "1" + "}{2}" * 3000 + "}",
    "deeply nested braces": "\\boxed{" + "{" * 300 + "x" + "}" * 300 + "}",
    "deeply nested parentheses": "\\boxed{" + "(" * 400 + "x+1" + ")" * 400 + "}",
    "unclosed braces": "\\boxed{\\frac{1}{2" + "{" * 10_000,
    "a megabyte of junk": "x+\\frac{" * 150_000,
    "unbalanced dollars": "$" * 200_000 + "7",
    "many open boxes": "\\boxed{" * 100_000,
    "exponent tower": "\\boxed{10^{10^{10^{10}}}}",
    "huge power": "\\boxed{(x+1)^{100000}}",
    "huge factorial": "\\boxed{1000000!}",
    "long product": "\\boxed{" + "".join(f"(x+{i})" for i in range(300)) + "}",
}


@pytest.fixture(scope="module", autouse=True)
def warm_pool():
    """Start the worker pool once, so timings below measure grading, not interpreter start-up."""
    assert grading.grade("x^2-1", "(x-1)(x+1)", "math").correct


@pytest.mark.parametrize("name", list(PATHOLOGICAL))
@pytest.mark.parametrize("kind", ["math", "gsm8k"])
def test_pathological_input_is_incorrect_within_the_timeout(name, kind):
    start = time.monotonic()
    verdict = grading.grade("5", PATHOLOGICAL[name], kind, timeout=TIMEOUT)
    assert verdict.correct is False
    assert time.monotonic() - start < TIMEOUT + SLACK


def test_a_batch_with_pathological_items_keeps_its_order_and_answers():
    golds, preds, expected = [], [], []
    normal = [("x^2-1", "\\boxed{(x-1)(x+1)}", True), ("\\frac{1}{2}", "\\boxed{0.5}", True),
              ("3", "\\boxed{4}", False), ("\\sqrt{8}", "\\boxed{2\\sqrt{2}}", True)]
    for i, bad in enumerate(PATHOLOGICAL.values()):
        g, p, e = normal[i % len(normal)]
        golds += [g, "5"]
        preds += [p, bad]
        expected += [e, False]
    start = time.monotonic()
    verdicts = grading.grade_many(golds, preds, "math", workers=2, timeout=TIMEOUT)
    assert [v.correct for v in verdicts] == expected
    # Every pathological item may burn its full timeout, two at a time.
    assert time.monotonic() - start < len(PATHOLOGICAL) * TIMEOUT / 2 + 4 * SLACK


def test_symbolic_checks_work_from_threads():
    """Plain math-verify's SIGALRM timeout fails off the main thread; the grader must not."""
    from math_verify import parse, verify

    result = {}
    t = threading.Thread(target=lambda: result.update(mv=verify(parse("$x^2-1$"), parse("$(x-1)(x+1)$"))))
    t.start()
    t.join()
    assert result["mv"] is False  # math-verify 0.5.2 swallows "signal only works in main thread" as False

    pairs = [("x^2-1", "(x-1)(x+1)", True), ("\\sin^2 x + \\cos^2 x", "1", True), ("x+1", "x+2", False),
             ("5", PATHOLOGICAL["exponent tower"], False), ("\\frac{1}{2}", "0.5", True), ("2x", "x+x", True)] * 2
    with ThreadPoolExecutor(8) as ex:
        got = list(ex.map(lambda t: grading.grade(t[0], t[1], "math", timeout=TIMEOUT).correct, pairs))
    assert got == [e for _, _, e in pairs]


def test_grading_works_inside_worker_processes():
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: the hardest case for imports
    golds = ["x^2-1", "\\frac{1}{2}", "5", "18"]
    preds = ["(x-1)(x+1)", "\\boxed{0.5}", "\\boxed{6}", "The answer is 18."]
    kinds = ["math", "math", "math", "gsm8k"]
    with ProcessPoolExecutor(2, mp_context=ctx) as ex:
        got = list(ex.map(grading.is_equiv, golds, preds, kinds))
    assert got == [True, True, False, True]


def test_a_killed_worker_is_replaced():
    pool = shared_pool()
    assert grading.grade("x^2-1", "(x-1)(x+1)", "math").correct
    for w in pool._workers:  # fault injection: kill every idle worker behind the pool's back
        os.kill(w.pid, signal.SIGKILL)
    time.sleep(0.2)
    assert grading.grade("x^2-4", "(x-2)(x+2)", "math").correct
    assert not grading.grade("x^2-4", "(x-2)(x+3)", "math").correct


def test_timeouts_are_counted_and_the_pool_recovers():
    pool = shared_pool()
    before = pool.timeouts
    assert not grading.grade("5", "\\boxed{" + "(" * 400 + "x+1" + ")" * 400 + "}", "math", timeout=0.5).correct
    assert pool.timeouts >= before  # the item either failed to parse quickly or was killed at its deadline
    assert grading.grade("2x+2", "2(x+1)", "math").correct
