"""`reverse` (MetaMath's FOBAR): mask one number of the question as x, state the answer, ask for x.

    "<question with one number replaced by x> If we know the answer to the above question is {A},
     what is the value of unknown variable x?"          gold = the masked number (exact, no LLM)

The query never needs a model. The response:
- GSM8K seeds whose chain is traced (strategies/chain.py) and where the masked value is free: the reference
  solution is rewritten symbolically (sympy) with x in place of the number; the final expression f(x) = A
  is solved, and kept only if the solution is unique and equals the masked number. Steps that do not
  involve x keep their <<>> annotations. gold_method "exact-chain", no sampling.
- otherwise (and for MATH seeds, where the unknown is called X as in MetaMath): k paths are sampled and
  kept only when they reach the masked number (gold_method "masked-number").
"""

from __future__ import annotations

import re
from fractions import Fraction

from augmath.augment import calc
from augmath.sources import Record
from augmath.augment.strategies import Query, Reject, Strategy, chain
from augmath.augment.strategies.numbers import candidate_value, rng_for

FOBAR = "If we know the answer to the above question is {answer}, what is the value of unknown variable {var}?"
_TIMES_RE = re.compile(r"(?<=[\d)%])\s*[xX×]\s*(?=[$\d(])")  # "12 x 2": a times sign, not the unknown
_MATH_NUMBER_RE = re.compile(r"(?<![\w.^_{\\])(\d+)(?![\w.}])")


def mask_gsm8k(seed: Record, round_index: int) -> tuple[str, Fraction, chain.Trace | None]:
    """(question with one number replaced by 'x', masked value, trace if the masked value is free)."""
    if re.search(r"(?<![A-Za-z])x(?![A-Za-z])", seed.question):
        raise Reject("question already uses x")
    try:
        t = chain.trace(seed.question, seed.solution or "")
    except chain.Untraceable:
        t = None
    qnums = chain.question_numbers(seed.question)
    counts: dict[Fraction, int] = {}
    for q in qnums:
        counts[q.value] = counts.get(q.value, 0) + 1
    once = [q for q in qnums if not q.frozen and counts[q.value] == 1]
    free = [q for q in once if t is not None and q.value in t.free]
    pool = free or [q for q in once if q.value not in (0, 1)]
    if not pool:
        raise Reject("no number to mask")
    q = rng_for(seed.id, round_index, "reverse").choice(pool)
    masked = seed.question[:q.start] + "x" + seed.question[q.end:]
    return masked, q.value, (t if free else None)


def mask_math(seed: Record, round_index: int) -> tuple[str, str]:
    if re.search(r"\bX\b", seed.question):
        raise Reject("problem already uses X")
    found = list(_MATH_NUMBER_RE.finditer(seed.question))
    counts: dict[str, int] = {}
    for m in found:
        counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    pool = [m for m in found if counts[m.group(1)] == 1 and m.group(1) not in ("0", "1")]
    if not pool:
        raise Reject("no number to mask")
    m = rng_for(seed.id, round_index, "reverse").choice(pool)
    return seed.question[:m.start(1)] + "X" + seed.question[m.end(1):], m.group(1)


def _sym(value):
    import sympy

    return sympy.Rational(value.numerator, value.denominator) if isinstance(value, Fraction) else value


def _fmt(expr, before: str = "", after: str = "") -> str:
    """sympy text of expr, in parentheses where the neighbouring operators would otherwise change its meaning."""
    import sympy

    text = sympy.sstr(expr)
    before, after = before.rstrip()[-1:], after.lstrip()[:1]
    if expr.is_Add and (before in "*/-x×÷^" and before or after in "*/x×÷^" and after):
        return f"({text})"
    if (expr.is_Mul or expr.is_Pow or (expr.is_Number and expr < 0)) and (before in "/^-" and before or after == "^"):
        return f"({text})"
    return text


def exact_response(t: chain.Trace, x_value: Fraction, answer: Fraction) -> str | None:
    """The reference solution rewritten with x, ending in solving f(x) = answer; None if not possible."""
    import sympy

    x = sympy.Symbol("x")
    new = {x_value: x}
    operand_refs = {(r.step, r.index): r for r in t.refs if r.kind == "operand"}
    results, ops_all = [], []
    try:
        for i, step in enumerate(t.steps):
            ops = [_sym(candidate_value(t, next(iter(operand_refs[(i, j)].candidates)), op.value, new, results))
                   for j, op in enumerate(step.operands)]
            ops_all.append(ops)
            results.append(sympy.expand(calc.evaluate_tree(step.tree, lambda j, _o: ops[j])))
    except (calc.CalcError, TypeError):
        return None
    answer_ref = next(r for r in t.refs if r.kind == "answer")
    f = candidate_value(t, next(iter(answer_ref.candidates)), t.answer, new, results)
    if not getattr(f, "free_symbols", None):
        return None
    if f.is_polynomial(x) and sympy.degree(f, x) == 1:  # the usual case, solved directly (solve() is slow)
        a, b = f.coeff(x, 1), f.coeff(x, 0)
        solutions = [(_sym(answer) - b) / a]
    else:
        solutions = sympy.solve(sympy.Eq(f, _sym(answer)), x)
    if len(solutions) != 1 or solutions[0] != _sym(x_value):
        return None
    dependent = {i for i, r in enumerate(results) if r.free_symbols}
    edits, covered = [], []
    text_refs = [r for r in t.refs if r.kind == "text"]
    for i in sorted(dependent):
        step = t.steps[i]
        if step.prose:  # "10+2 = 12" in prose: the whole computation is rewritten
            start, end = step.prose[0], step.prose[3]
            written_span = (step.prose[0], step.prose[1])
        else:
            result_ref = next((r for r in text_refs if r.candidates == {("r", i)} and r.start >= step.annotation.end
                               and re.fullmatch(r"\s*\$?\s*", t.solution[step.annotation.end:r.start])), None)
            start = step.written[0] if step.written else step.annotation.start
            end = result_ref.end if result_ref else step.annotation.end
            written_span = (step.written[0], step.annotation.start) if step.written else None
        shown = _fmt(results[i])
        if written_span:
            written = t.solution[written_span[0]:written_span[1]].rstrip(" $=")
            written = re.sub(r"[xX×]", "*", written)  # same length: offsets stay valid; 'x' is now the unknown
            _, w_ops = calc.parse(written.strip(" $"))
            lead = len(written) - len(written.lstrip(" $"))
            rewritten = written
            for op, value in sorted(zip(w_ops, ops_all[i]), key=lambda p: -p[0].start):
                if getattr(value, "free_symbols", None):
                    a, b = lead + op.start, lead + op.end
                    rewritten = rewritten[:a] + _fmt(value, rewritten[:a], rewritten[b:]) + rewritten[b:]
            if rewritten.strip(" $") != shown:
                shown = f"{rewritten.strip()} = {shown}"
        edits.append((start, end, shown))
        covered.append((start, end))
    for ref in text_refs:
        if any(a <= ref.start < b for a, b in covered):
            continue
        value = candidate_value(t, next(iter(ref.candidates)), calc.to_fraction(t.solution[ref.start:ref.end]),
                                new, results)
        if getattr(value, "free_symbols", None):
            edits.append((ref.start, ref.end, _fmt(value, t.solution[:ref.start], t.solution[ref.end:])))
    solution = t.solution
    for start, end, text in sorted(edits, reverse=True):
        solution = solution[:start] + text + solution[end:]
    head = _TIMES_RE.sub(" * ", solution[:solution.rfind("####")].rstrip())
    x_text = calc.format_number(x_value)
    a_text = calc.format_number(answer)
    response = (f"{head}\nWe know the answer is {a_text}, so {_fmt(f)} = {a_text}.\n"
                f"Solving for x gives x = {x_text}.\n#### {x_text}")
    if not calc.all_annotations_valid(response):
        return None
    return response


class Reverse(Strategy):
    name = "reverse"
    description = "FOBAR backward question: mask a number as x, state the answer, ask for x (MetaMath)"
    template = FOBAR

    def needs_llm(self, source: str) -> bool:
        return False  # the query is exact; paths are sampled only where no exact solution exists

    def exact(self, seed: Record, round_index: int) -> Query:
        if seed.source == "math":
            masked, value = mask_math(seed, round_index)
            question = f"{masked.rstrip()} {FOBAR.format(answer=seed.answer, var='X')}"
            return Query(seed, self.name, round_index, question, value, "masked-number", "exact", self.prompt_hash)
        masked, value, t = mask_gsm8k(seed, round_index)
        question = f"{masked.rstrip()} {FOBAR.format(answer=seed.answer, var='x')}"
        gold = calc.format_number(value)
        response = exact_response(t, value, calc.to_fraction(seed.answer)) if t is not None else None
        if response is not None:
            return Query(seed, self.name, round_index, question, gold, "exact-chain", "exact", self.prompt_hash,
                         {}, response, solution_trusted=True)
        return Query(seed, self.name, round_index, question, gold, "masked-number", "exact", self.prompt_hash)


STRATEGY = Reverse()
