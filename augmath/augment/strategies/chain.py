"""Trace a GSM8K reference solution's `<<expr=value>>` chain back to the numbers of its question.

Shared by the exact `numbers` and `reverse` strategies. Every operand of every annotation, every number in
the solution's prose and the final answer is a *reference*; its *candidates* are the sources its value could
come from:
    ("q", v)     a number of the question (all occurrences of one value form one class, changed together)
    ("q%", v)    a question percentage used as a fraction (20% -> 0.2)
    ("r", i)     the result of step i, earlier in the chain: an annotation, or a computation written in
                 prose without one ("so he is 10+2 = 12 years old"), which becomes a step of its own
    ("fixed",)   a constant that never changes: 1, 2 and 1/2 (implicit everywhere: "each", "a pair", "2
                 slices per sandwich"), number words in the text ("twice", "three", "dozen"), conversions
                 whose two units the text mentions (hour+minute -> 60, week+day -> 7, ...), and question
                 numbers we must not touch (ordinals, years, clock times, parts of written fractions).
We cannot know which candidate the annotator meant, so a seed is usable only where that does not matter:
a question value whose references are ambiguous is frozen (kept as it is) until every reference's candidates
provably take one value after the change. A reference with no candidate (a number computed off the books)
rejects the seed. The seed is then perturbable in the classes that remain free.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

from augmath.augment import calc
from augmath.augment.strategies import Reject

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
NUMBER_RE = re.compile(rf"(?<![\w.])({_NUM})")
_ANSWER_RE = re.compile(r"####\s*\$?\s*(-?[\d,]*\.?\d+)")

_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000,
    "million": 1000000, "dozen": 12, "dozens": 12, "score": 20, "twice": 2, "double": 2, "doubles": 2,
    "doubled": 2, "half": 2, "halves": 2, "pair": 2, "pairs": 2, "both": 2, "couple": 2, "twins": 2,
    "triple": 3, "tripled": 3, "triples": 3, "thrice": 3, "third": 3, "thirds": 3, "quadruple": 4,
    "quarter": 4, "quarters": 4, "fourth": 4, "fifth": 5, "sixth": 6, "tenth": 10, "average": 2,
    "round trip": 2, "back and forth": 2, "there and back": 2, "each way": 2, "both ways": 2,
}
# Implicit conversion constants an annotator may use without the question writing them. A conversion needs
# both units in the text (question or solution), which keeps collisions with question numbers rare.
_UNITS = [
    (r"hour", r"minute", (60,)), (r"minute", r"second", (60,)), (r"\bday", r"hour", (24,)),
    (r"week", r"\bday", (7,)), (r"year", r"month", (12,)), (r"year", r"week", (52,)), (r"year", r"\bday", (365, 366)),
    (r"month", r"\bday", (30, 31)), (r"month", r"week", (4,)), (r"week", r"weekday|school ?day|work ?day", (5,)),
    (r"f(oo|ee)t", r"inch", (12,)), (r"yard", r"f(oo|ee)t", (3,)), (r"pound", r"ounce", (16,)),
    (r"gallon", r"ounce", (128,)), (r"gallon", r"quart", (4,)), (r"quart", r"pint", (2,)), (r"gallon", r"pint", (8,)),
    (r"dollar|\$", r"cent|penn", (100, 0.01)), (r"\bk(ilo)?m\b|kilomet", r"\bmeter|\bm\b|metre", (1000,)),
    (r"\bkg\b|kilogram", r"\bgram|\bg\b", (1000,)), (r"\bl\b|liter|litre", r"ml\b|millil", (1000,)),
    (r"decade", r"year", (10,)), (r"centur", r"year", (100,)), (r"dozen", r"", (12,)), (r"nickel", r"", (5, 0.05)),
    (r"dime", r"", (10, 0.1)), (r"quarter", r"", (25, 0.25, 4)), (r"percent|%", r"", (100, 0.01)),
    (r"score", r"", (20,)), (r"pizza", r"slice", (8,)),
]
_UNITS = [(re.compile(a), re.compile(b), v) for a, b, v in _UNITS]
_WORDS_RE = re.compile(r"\b(" + "|".join(sorted(map(re.escape, _WORDS), key=len, reverse=True)) + r")\b")
_BASE_FIXED = {Fraction(1), Fraction(2), Fraction(1, 2)}


@dataclass
class QNumber:
    start: int
    end: int
    text: str
    value: Fraction
    percent: bool
    frozen: bool  # ordinal, year, clock time or part of a written fraction: never changed


@dataclass
class Ref:
    kind: str  # "operand" | "text" | "answer"
    candidates: set[tuple]
    step: int = -1  # for operands: the annotation and operand index
    index: int = -1
    start: int = -1  # for text/answer: span in the solution
    end: int = -1


@dataclass
class Step:
    annotation: calc.Annotation
    tree: calc.Node
    operands: list[calc.Operand]
    result: Fraction
    written: tuple[int, int] | None = None  # span of "48/2 = " when the prose mirrors the annotation
    prose: tuple[int, int, int, int] | None = None  # no annotation: "17-5 = 12" (expr start/end, result start/end)

    @property
    def span(self) -> tuple[int, int]:
        return (self.annotation.start, self.annotation.end) if self.annotation else (self.prose[0], self.prose[3])


@dataclass
class Trace:
    question: str
    solution: str
    qnumbers: list[QNumber]
    steps: list[Step]
    refs: list[Ref]
    fixed: set[Fraction]
    frozen: set[Fraction] = field(default_factory=set)  # question values that must not change
    free: list[Fraction] = field(default_factory=list)  # question values that may change
    answer: Fraction | None = None


class Untraceable(Reject):
    """The seed's chain cannot be traced; str(e) is the reason recorded in the run report."""


def final_answer(solution: str) -> Fraction | None:
    """The number after '####' ('1,800' -> 1800), or None."""
    m = _ANSWER_RE.search(solution)
    return calc.to_fraction(m.group(1)) if m else None


def question_numbers(question: str) -> list[QNumber]:
    found = []
    for m in NUMBER_RE.finditer(question):
        before, after = question[max(0, m.start() - 1):m.start()], question[m.end():m.end() + 2]
        value = calc.to_fraction(m.group())
        frozen = (
            bool(re.match(r"(st|nd|rd|th)\b", after))  # 2nd
            or bool(re.match(r"[A-Za-z]", after[:1]))  # 4x4, 3D
            or before in ("/", ":") or after[:1] in ("/", ":")  # 2/5, 5:30
            or (value.denominator == 1 and 1900 <= value <= 2100 and "," not in m.group())  # years
        )
        percent = question[m.end():m.end() + 1] == "%" or question[m.end():m.end() + 8].lower() == " percent"
        found.append(QNumber(m.start(), m.end(), m.group(), value, percent, frozen))
    return found


def fixed_values(question: str, solution: str, qnumbers: list[QNumber]) -> set[Fraction]:
    text = f"{question}\n{calc.ANNOTATION_RE.sub(' ', solution)}".lower()
    fixed = set(_BASE_FIXED)
    for m in _WORDS_RE.finditer(text):
        value = _WORDS[m.group(1)]
        fixed.update({Fraction(value), Fraction(1, value)})
    for first, second, values in _UNITS:
        if first.search(text) and second.search(text):
            fixed.update(Fraction(str(v)) for v in values)
    for q in qnumbers:
        if q.frozen:
            fixed.add(q.value)
    # a written fraction "2/5" may be used as 0.4
    for m in re.finditer(r"(\d+)\s*/\s*(\d+)", question):
        if int(m.group(2)):
            fixed.add(Fraction(int(m.group(1)), int(m.group(2))))
    return fixed


def _annotation_steps(solution: str) -> list[Step]:
    steps = []
    for ann in calc.find_annotations(solution):
        if not calc.check(ann.body):
            raise Untraceable("annotation does not evaluate")
        tree, ops = calc.parse(ann.expr)
        steps.append(Step(ann, tree, ops, calc.evaluate(ann.expr)))
    if not steps:
        raise Untraceable("no annotations")
    steps.extend(_prose_steps(solution))
    return sorted(steps, key=lambda s: s.span[0])


def _prose_steps(solution: str) -> list[Step]:
    """Computations written in prose without an annotation ("he is 10+2 = 12 years old"). Each becomes a
    step of the chain; a prose "= N" that is not such a computation (algebra, units in the middle of the
    expression) rejects the seed, since a change could not update it."""
    masked = calc.ANNOTATION_RE.sub(lambda m: "@" * len(m.group()), solution)
    steps = []
    for m in _UNANNOTATED_RE.finditer(masked):
        eq = m.start()
        line_start = masked.rfind("\n", 0, eq) + 1
        w = _WRITTEN_RE.search(masked, line_start, eq + 1)
        result_text = NUMBER_RE.search(masked, eq, m.end() + 1)
        if not w or not result_text:
            raise Untraceable("unannotated computation in solution")
        written = w.group(1)
        lead = len(written) - len(written.lstrip(" $"))
        expr = written.strip(" $")
        try:
            tree, ops = calc.parse(expr)
            value = calc.evaluate_tree(tree)
        except calc.CalcError:
            raise Untraceable("unannotated computation in solution") from None
        stated = calc.to_fraction(result_text.group())
        if len(ops) < 2 or abs(value - stated) > calc.result_tolerance(result_text.group()):
            raise Untraceable("unannotated computation in solution")
        start = w.start(1) + lead
        steps.append(Step(None, tree, ops, value, prose=(start, start + len(expr), result_text.start(),
                                                         result_text.end())))
    return steps


def _candidates(value: Fraction, classes: set[Fraction], percents: set[Fraction], results: list[Fraction],
                fixed: set[Fraction]) -> set[tuple]:
    cands: set[tuple] = {("r", i) for i, r in enumerate(results) if r == value}
    if value in classes:
        cands.add(("q", value))
    if value * 100 in percents:
        cands.add(("q%", value * 100))
    if value in fixed:
        cands.add(("fixed",))
    return cands


def trace(question: str, solution: str) -> Trace:
    """Trace a GSM8K solution; raises Untraceable(reason) when the seed cannot be perturbed exactly."""
    qnumbers = question_numbers(question)
    steps = _annotation_steps(solution)
    fixed = fixed_values(question, solution, qnumbers)
    classes = {q.value for q in qnumbers if not q.frozen}
    percents = {q.value for q in qnumbers if q.percent and not q.frozen}
    refs: list[Ref] = []
    results = [s.result for s in steps]
    for i, step in enumerate(steps):
        for j, op in enumerate(step.operands):
            cands = _candidates(op.value, classes, percents, results[:i], fixed)
            # Solutions are written line by line: an operand equal to the previous line's result is that
            # result (not a question number or constant that happens to be equal).
            if i > 0 and ("r", i - 1) in cands:
                cands = {("r", i - 1)}
            if not cands:
                raise Untraceable("operand not traceable")
            refs.append(Ref("operand", cands, step=i, index=j))
    operand_refs = {(r.step, r.index): r for r in refs}
    refs.extend(_prose_refs(solution, steps, classes, percents, fixed, operand_refs))
    answer_match = _ANSWER_RE.search(solution)
    if not answer_match:
        raise Untraceable("no #### answer")
    answer = calc.to_fraction(answer_match.group(1))
    cands = _candidates(answer, classes, percents, results, fixed)
    if not any(c[0] == "r" for c in cands):
        raise Untraceable("answer is not an annotation result")
    if ("r", len(steps) - 1) in cands:  # the #### line restates the last annotation's result
        cands = {("r", len(steps) - 1)}
    refs.append(Ref("answer", cands, start=answer_match.start(1), end=answer_match.end(1)))
    t = Trace(question, solution, qnumbers, steps, refs, fixed, answer=answer)
    _resolve(t)
    return t


# "= $1 discount": a result computed in prose without an annotation; we could not recompute it.
_UNANNOTATED_RE = re.compile(r"=\s*\$?\s*(?:\d[\d,]*(?:\.\d+)?|\.\d+)(?![\d.,]*\s*(?:[-+*/×÷^%(]|x\s*\d))")
_WRITTEN_RE = re.compile(r"([\d$.,%()+\-*/x×÷ ]+?)=\s*\$?\s*$")  # "48/2 = $" before an annotation


def _mirrored_operands(solution: str, steps: list[Step], operand_refs: dict) -> dict[int, set]:
    """Numbers of a written expression right before an annotation ("48/2 = <<48/2=24>>") are that
    annotation's operands, one for one, when their values match in order: start offset -> candidates."""
    out = {}
    for i, step in enumerate(steps):
        if step.annotation is None:
            continue
        line_start = solution.rfind("\n", 0, step.annotation.start) + 1
        m = _WRITTEN_RE.search(solution, line_start, step.annotation.start)
        if not m:
            continue
        written = m.group(1)
        lead = len(written) - len(written.lstrip(" $"))
        try:
            _, ops = calc.parse(written.strip(" $"))
        except calc.CalcError:
            continue
        if [o.value for o in ops] != [o.value for o in step.operands]:
            continue
        for j, o in enumerate(ops):
            out[m.start(1) + lead + o.start] = operand_refs[(i, j)].candidates
        step.written = (m.start(1) + lead, step.annotation.start)
    return out


def _prose_refs(solution, steps, classes, percents, fixed, operand_refs) -> list[Ref]:
    """Numbers in the solution's text. The number right after `>>` is that annotation's result."""
    refs = []
    spans = [s.span for s in steps]
    results = [s.result for s in steps]
    mirrored = _mirrored_operands(solution, steps, operand_refs)
    answer_line = solution.rfind("####")
    body = solution if answer_line < 0 else solution[:answer_line]
    for m in NUMBER_RE.finditer(body):
        if any(a <= m.start() < b for a, b in spans) or m.start() in mirrored:
            if m.start() in mirrored:
                refs.append(Ref("text", mirrored[m.start()], start=m.start(), end=m.end()))
            continue
        if re.match(r"(st|nd|rd|th)\b", body[m.end():m.end() + 2]):
            continue  # ordinals are words, not quantities
        value = calc.to_fraction(m.group())
        later = [i for i, (a, _) in enumerate(spans) if a >= m.end()]
        upto = later[0] if later else len(steps)
        # The result written right after an annotation is that annotation's result, not a lookalike.
        just_after = [i for i, (_, b) in enumerate(spans) if steps[i].annotation is not None
                      and b <= m.start() and re.fullmatch(r"\s*\$?\s*", body[b:m.start()])]
        if just_after and results[just_after[0]] == value:
            cands = {("r", just_after[0])}
        else:
            cands = _candidates(value, classes, percents, results[:upto], fixed)
        if not cands:
            raise Untraceable("number in solution text not traceable")
        refs.append(Ref("text", cands, start=m.start(), end=m.end()))
    return refs


def _depends(t: Trace, cand: tuple, memo: dict) -> set[Fraction]:
    """Question values a candidate's value depends on (through the chain)."""
    if cand[0] in ("q", "q%"):
        return set() if cand[1] in t.frozen else {cand[1]}
    if cand[0] == "fixed":
        return set()
    i = cand[1]
    if i not in memo:
        memo[i] = set()
        for ref in t.refs:
            if ref.kind == "operand" and ref.step == i:
                for c in ref.candidates:
                    memo[i] |= _depends(t, c, memo)
    return memo[i]


def _resolve(t: Trace) -> None:
    """Freeze question values until every reference with several candidates has all of them fixed."""
    changed = True
    while changed:
        changed = False
        memo: dict = {}
        for ref in t.refs:
            if len(ref.candidates) < 2:
                continue
            deps = set().union(*(_depends(t, c, memo) for c in ref.candidates))
            if deps:
                t.frozen |= deps
                changed = True
                break
    used = set()
    for ref in t.refs:
        for c in ref.candidates:
            if c[0] in ("q", "q%"):
                used.add(c[1])
    t.free = sorted(v for v in used if v not in t.frozen and v not in t.fixed)
    t.frozen |= {v for v in used if v in t.fixed}
