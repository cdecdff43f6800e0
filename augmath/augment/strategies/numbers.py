"""`numbers`: change specific numbers of a problem (MuggleMath strategy 1).

GSM8K seeds, exact and offline: the reference solution's `<<expr=value>>` chain is traced back to the
question (strategies/chain.py); the free question values are changed consistently, the whole chain is
recomputed with exact fractions, and the question, every annotation, the prose numbers and the `####`
answer are rewritten. The new item is correct by construction, so it needs no LLM and no vote. A change is
accepted only if it keeps what the original promised: integers stay integers, positive stays positive,
money keeps at most two decimals, and the question's numbers keep their order (a part stays smaller
than its whole). Seeds whose chain cannot be traced are dropped with the reason.

MATH seeds: an LLM rewrites the problem with new numbers and writes a full solution ending in \\boxed{};
the answer is then settled by majority vote over sampled paths (see strategies/evolve.py).
"""

from __future__ import annotations

import hashlib
import random
from fractions import Fraction

from augmath.augment import calc
from augmath.augment.strategies import chain
from augmath.augment.strategies.evolve import EvolveStrategy, Example

TRIES = 120  # random changes tried per seed before giving up (deterministic: seeded by seed id + round)
MAX_VALUE = Fraction(10**7)


def rng_for(seed_id: str, round_index: int, salt: str) -> random.Random:
    digest = hashlib.sha256(f"{salt}|{seed_id}|{round_index}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _propose(value: Fraction, percent: bool, rng: random.Random) -> Fraction:
    """A new value of the same kind: same number of decimals, same roundness (multiples of 5/10/25/...)."""
    places = calc.decimals(value) or 0
    unit = Fraction(1, 10**places)
    m = int(value / unit)
    step = next((g for g in (1000, 500, 100, 50, 25, 10, 5) if m % g == 0 and m > g), 1)
    k = m // step
    # never propose 1 for a value above 1: "1 lawns" breaks the grammar the question was written with
    lo, hi = max(1 if step * unit < 1 or m == 1 else 2 if step == 1 else 1, k // 2), max(2 * k, k + 3)
    if percent and value <= 100:
        hi = min(hi, int(100 / (step * unit)))
    choices = [c for c in range(lo, hi + 1) if c != k]
    return rng.choice(choices) * step * unit if choices else value


def recompute(t: chain.Trace, new: dict[Fraction, Fraction]) -> tuple[list[list[Fraction]], list[Fraction]]:
    """New operand values and results of every annotation under the change `new` (question value -> value)."""
    operand_refs = {(r.step, r.index): r for r in t.refs if r.kind == "operand"}
    results: list[Fraction] = []
    all_ops: list[list[Fraction]] = []
    for i, step in enumerate(t.steps):
        ops = [candidate_value(t, next(iter(operand_refs[(i, j)].candidates)), op.value, new, results)
               for j, op in enumerate(step.operands)]
        all_ops.append(ops)
        results.append(calc.evaluate_tree(step.tree, lambda j, _op: ops[j]))
    return all_ops, results


def candidate_value(t, cand: tuple, original: Fraction, new: dict, results: list) -> Fraction:
    # After chain._resolve, every candidate of a reference takes the same value, so any one will do.
    if cand[0] == "q":
        return new.get(cand[1], cand[1])
    if cand[0] == "q%":
        return new.get(cand[1], cand[1]) / 100
    if cand[0] == "r":
        return results[cand[1]]
    return original


def _acceptable(t: chain.Trace, new: dict, results: list[Fraction]) -> bool:
    for old, value in zip((s.result for s in t.steps), results):
        if (old.denominator == 1) != (value.denominator == 1) or (old > 0) != (value > 0) or (old == 0) != (value == 0):
            return False
        places = calc.decimals(value)
        if places is None or places > max(calc.decimals(old) or 0, 2) or abs(value) > MAX_VALUE:
            return False
    values = sorted({q.value for q in t.qnumbers if not q.frozen})
    moved = [new.get(v, v) for v in values]
    return all(a < b for a, b in zip(sorted(moved), sorted(moved)[1:])) and moved == sorted(moved)


def find_change(t: chain.Trace, rng: random.Random) -> tuple[dict, list, list] | None:
    percent = {q.value for q in t.qnumbers if q.percent}
    for attempt in range(TRIES):
        # First try to change every free value; later tries change a random subset (easier to satisfy).
        chosen = t.free if attempt < TRIES // 2 else [v for v in t.free if rng.random() < 0.5] or [rng.choice(t.free)]
        new = {v: _propose(v, v in percent, rng) for v in chosen}
        new = {v: w for v, w in new.items() if w != v}
        if not new:
            continue
        try:
            ops, results = recompute(t, new)
        except calc.CalcError:
            continue
        if _acceptable(t, new, results):
            return new, ops, results
    return None


def styled(value: Fraction, like: str) -> str | None:
    """Format a new value the way the original token was written ('1,200', '$2.50' style)."""
    text = calc.format_number(value)
    if text is None:
        return None
    if "." in like and len(like.split(".")[1]) == 2 and calc.decimals(value) <= 2:
        text = f"{float(value):.2f}"
    if "," in like:
        whole, _, frac = text.partition(".")
        text = f"{int(whole):,}" + (f".{frac}" if frac else "")
    return text


def _replace(text: str, edits: list[tuple[int, int, str]]) -> str:
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def perturb(seed_id: str, question: str, solution: str, round_index: int = 0) -> tuple[str, str, str]:
    """(new question, new solution, new answer) for a GSM8K seed; raises chain.Untraceable(reason)."""
    t = chain.trace(question, solution)
    if not t.free:
        raise chain.Untraceable("no number can change")
    found = find_change(t, rng_for(seed_id, round_index, "numbers"))
    if found is None:
        raise chain.Untraceable("no valid change found")
    new, ops, results = found
    q_edits = [(q.start, q.end, styled(new[q.value], q.text)) for q in t.qnumbers
               if not q.frozen and q.value in new]
    s_edits = []
    for i, step in enumerate(t.steps):
        if step.prose:  # a computation written in prose: its numbers are rewritten where they stand
            s_edits.extend((step.prose[0] + op.start, step.prose[0] + op.end, styled(v, op.text))
                           for op, v in zip(step.operands, ops[i]))
            s_edits.append((step.prose[2], step.prose[3], styled(results[i], solution[step.prose[2]:step.prose[3]])))
            continue
        expr = _replace(step.annotation.expr, [(op.start, op.end, calc.format_number(v))
                                                 for op, v in zip(step.operands, ops[i])])
        s_edits.append((step.annotation.start, step.annotation.end, f"<<{expr}={calc.format_number(results[i])}>>"))
    for ref in t.refs:
        if ref.kind in ("text", "answer"):
            old_text = solution[ref.start:ref.end]
            value = candidate_value(t, next(iter(ref.candidates)), calc.to_fraction(old_text), new, results)
            s_edits.append((ref.start, ref.end, styled(value, old_text)))
    if any(e[2] is None for e in q_edits + s_edits):
        raise chain.Untraceable("no valid change found")
    new_solution = _replace(solution, s_edits)
    answer = calc.format_number(next(candidate_value(t, c, t.answer, new, results)
                                     for c in next(r for r in t.refs if r.kind == "answer").candidates))
    # Belt and braces: the rewritten solution must check out on its own.
    stated = chain.final_answer(new_solution)
    if not calc.all_annotations_valid(new_solution) or stated is None or stated != calc.to_fraction(answer):
        raise chain.Untraceable("rewritten solution failed its own check")
    return _replace(question, q_edits), new_solution, answer


STRATEGY = EvolveStrategy(
    name="numbers",
    instruction="Change specific numbers in the problem. Keep the story and what is asked the same.",
    example=Example(
        gsm8k="Tom has 12 apples. He buys 7 bags with 6 apples in each bag. How many apples does Tom have now?",
        math="What is the sum of the solutions of $x^2 - 9x + 20 = 0$?",
        math_solution="The equation factors as $(x-4)(x-5) = 0$, so the solutions are $4$ and $5$. "
                      "Their sum is $4 + 5 = \\boxed{9}$.",
    ),
    description="change specific numbers (GSM8K: exact, offline; MATH: LLM rewrite + majority vote)",
    exact=perturb,
)
