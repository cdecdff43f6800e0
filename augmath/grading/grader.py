"""The one answer grader used everywhere in augmath (data verification, evaluation, majority votes, `augmath grade`).

    extract(text, kind)                  -> the final answer in a solution / model output (str or None)
    is_equiv(gold, pred, kind)           -> bool; gold and pred may be bare answers or full solutions
    grade(gold, prediction, kind)        -> Verdict(extracted, correct)
    grade_many(golds, preds, kind, workers=None) -> [Verdict], parallel, in input order
    same_answer(a, b, kind)              -> bool, for clustering sampled answers

kind "gsm8k": the answer is a number ('#### N', \\boxed{N}, 'The answer is N' in 13 languages, the result the
last sentence restates, else the last number), compared as an exact rational (an expression such as \\sqrt{4} is
compared as a MATH answer). kind "math": the last \\boxed{} (or an anchored / concluding / bare answer), compared by
augmath.grading.fast (canonical strings, exact numbers, answers with parts via augmath.grading.compound, a tiny
float evaluator that can only say "differ") and, only when that cannot decide, by math-verify in a worker process
with a hard per-item timeout (augmath.grading.pool). Every call takes policy= (augmath.grading.policy.Policy) for
the policy questions. See docs/grading.md for the rules, the policies, the known math-verify failure classes, the
accuracy per family and speed.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

from augmath.grading.extract import NumAnswer, boxed_answers, extract_latex, extract_number, looks_bare, strip_math
from augmath.grading.fast import fast_equal, symbolic_pair
from augmath.grading.normalize import MAX_ANSWER_CHARS
from augmath.grading.numbers import numbers_equal, percent_variants
from augmath.grading.policy import DEFAULT, Policy

KINDS = ("gsm8k", "math")
DEFAULT_TIMEOUT = 10.0  # seconds per item for the symbolic check (the fast path takes microseconds)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    extracted: str | None  # the prediction's answer as found (canonical number text for gsm8k)
    correct: bool


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


# --- answers on each side ----------------------------------------------------------------------------
@lru_cache(maxsize=65536)
def _number_answer(text: str, decimal_comma: bool = True) -> NumAnswer | None:
    return extract_number(text, decimal_comma)


def _approx_sides(cands: list[str]) -> tuple[str, ...]:
    """'\\frac{70}{9} \\approx 7.78' answers both an exact gold and a rounded one: try each side too."""
    for c in list(cands):
        if "\\approx" in c:
            cands += [part.strip() for part in c.split("\\approx") if not re.fullmatch(r"\s*[a-zA-Z]\s*", part)]
    return tuple(dict.fromkeys(cands))


@lru_cache(maxsize=65536)
def _latex_pred(text: str) -> tuple[str, ...]:
    return _approx_sides(extract_latex(text))


@lru_cache(maxsize=65536)
def _latex_gold(text: str) -> tuple[str, ...]:
    """A gold is a bare answer unless it carries a \\boxed{} or a '####' (then it is a full solution)."""
    if "\\boxed" in text or "\\fbox" in text:
        boxed = boxed_answers(text)
        if boxed:
            return tuple(boxed)
    if "####" in text:
        return (text.rsplit("####", 1)[1].strip(),)
    if not looks_bare(text):
        found = extract_latex(text)
        if len(found) > 1 and ", " in found[1] and found[1].endswith(found[0]):
            found = found[1:]  # a gold written '$2$ and $5$' is both answers, not its last one
        if found:
            return _approx_sides(found)
    stripped = strip_math(text)
    return _approx_sides([stripped]) if stripped else ()


def extract(text: str, kind: str, policy: Policy | None = None) -> str | None:
    """The final answer in `text` (a full solution, a model output, or already a bare answer)."""
    _check_kind(kind)
    text = "" if text is None else str(text)
    if kind == "gsm8k":
        ans = _number_answer(text, (policy or DEFAULT).decimal_comma)
        return None if ans is None else ans.text
    cands = _latex_pred(text)
    return cands[0] if cands else None


# --- deciding one pair: fast path, else symbolic tasks -----------------------------------------------
@lru_cache(maxsize=262144)
def _fast(gold: str, pred: str, policy: Policy = DEFAULT) -> bool | None:
    return fast_equal(gold, pred, policy)


def _numbers_decide(g: NumAnswer, p: NumAnswer, policy: Policy) -> tuple[bool | None, list[tuple[str, str]]]:
    """Two GSM8K answers: exact numbers; huge ones by their digits; an expression (\\sqrt{4}) as a MATH answer."""
    if g.num is not None and p.num is not None:
        return any(numbers_equal(a, b) for a in percent_variants(g.num, g.percent)
                   for b in percent_variants(p.num, p.percent)), []
    if g.exact or p.exact:
        return g.exact and p.exact and g.text == p.text, []
    r = True if g.text == p.text else _fast(g.text, p.text, policy)
    if r is not None or len(g.text) > MAX_ANSWER_CHARS or len(p.text) > MAX_ANSWER_CHARS:
        return bool(r), []
    return None, [symbolic_pair(g.text, p.text, policy)]


def _decide(gold: str, pred: str, kind: str, policy: Policy = DEFAULT
            ) -> tuple[str | None, bool | None, list[tuple[str, str]]]:
    """(extracted, verdict or None, symbolic tasks still needed when the verdict is None)."""
    if kind == "gsm8k":
        p = _number_answer(pred, policy.decimal_comma)
        g = _number_answer(gold, policy.decimal_comma)
        if p is None or g is None:
            return (None if p is None else p.text), False, []
        return (p.text, *_numbers_decide(g, p, policy))
    preds, golds = _latex_pred(pred), _latex_gold(gold)
    extracted = preds[0] if preds else None
    undecided = []
    for g in golds:
        for p in preds:
            r = True if g == p else _fast(g, p, policy)  # identical text: the common case, no parsing needed
            if r is True:
                return extracted, True, []
            if r is None and len(g) <= MAX_ANSWER_CHARS and len(p) <= MAX_ANSWER_CHARS:
                undecided.append(symbolic_pair(g, p, policy))
    return extracted, (None if undecided else False), undecided


_SYMBOLIC_CACHE: dict[tuple[str, str], bool] = {}


def _symbolic(tasks: list[tuple[str, str]], timeout: float, workers: int) -> dict[tuple[str, str], bool]:
    todo = [t for t in dict.fromkeys(tasks) if t not in _SYMBOLIC_CACHE]
    if todo:
        from augmath.grading.pool import shared_pool

        fresh = dict(zip(todo, shared_pool().run(todo, timeout, workers)))
        if len(_SYMBOLIC_CACHE) > 200_000:
            _SYMBOLIC_CACHE.clear()
        # A timed-out item (None) counts as incorrect now but is not cached: a longer timeout may settle it.
        _SYMBOLIC_CACHE.update((t, ok) for t, ok in fresh.items() if ok is not None)
        return {t: bool(_SYMBOLIC_CACHE.get(t, fresh.get(t))) for t in tasks}
    return {t: _SYMBOLIC_CACHE[t] for t in tasks}


def _safe_decide(gold, pred, kind, policy):
    try:
        return _decide("" if gold is None else str(gold), "" if pred is None else str(pred), kind, policy)
    except Exception:  # a grader bug on one weird item must not sink a batch; it is logged and marked wrong
        log.exception("augmath grader: failed on an item; marking it incorrect")
        return None, False, []


# --- public API --------------------------------------------------------------------------------------
def grade(gold: str, prediction: str, kind: str, timeout: float = DEFAULT_TIMEOUT,
          policy: Policy | None = None) -> Verdict:
    """Grade one prediction. Safe from any thread; the symbolic check runs in a worker process."""
    return grade_many([gold], [prediction], kind, workers=1, timeout=timeout, policy=policy)[0]


def is_equiv(gold: str, pred: str, kind: str, timeout: float = DEFAULT_TIMEOUT, policy: Policy | None = None) -> bool:
    return grade(gold, pred, kind, timeout, policy).correct


def same_answer(a: str, b: str, kind: str, timeout: float = DEFAULT_TIMEOUT, policy: Policy | None = None) -> bool:
    """Do two answers (or outputs) say the same thing? Symmetric: either one may play the gold."""
    _check_kind(kind)
    return is_equiv(a, b, kind, timeout, policy) or is_equiv(b, a, kind, timeout, policy)


def grade_many(golds: Sequence[str], predictions: Sequence[str], kind: str, workers: int | None = None,
               timeout: float = DEFAULT_TIMEOUT, policy: Policy | None = None) -> list[Verdict]:
    """Grade pairs in order. The fast path runs here; undecided pairs go to `workers` processes.
    `policy` (augmath.grading.policy.Policy) settles the policy questions; the default is Policy()."""
    _check_kind(kind)
    if len(golds) != len(predictions):
        raise ValueError(f"{len(golds)} golds but {len(predictions)} predictions")
    policy = policy or DEFAULT
    decided = [_safe_decide(g, p, kind, policy) for g, p in zip(golds, predictions)]
    tasks = [t for _, verdict, ts in decided if verdict is None for t in ts]
    n_workers = workers if workers and workers > 0 else min(8, os.cpu_count() or 1)
    results = _symbolic(tasks, timeout, n_workers) if tasks else {}
    return [Verdict(ext, verdict if verdict is not None else any(results.get(t, False) for t in ts))
            for ext, verdict, ts in decided]
