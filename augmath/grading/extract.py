"""Find the final answer in free-form text: GSM8K-style numbers and MATH-style LaTeX answers.

Both kinds first cut the text where a model starts a new turn or invents the next few-shot question
("Question:", "### Instruction", "<|im_start|>", ...): numbers after that belong to a hallucinated problem.
Every regex here is linear or bounded, so a megabyte of junk costs milliseconds, never a hang.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from augmath.grading.boxed import last_boxed_span
from augmath.grading.numbers import (WORD_NUMBER, Num, clean_number_text, format_fraction, parse_number,
                                     words_to_number)

_CONTINUATION = re.compile(
    r"(?:\n|[.!?]\s)\s*(?:Question|Problem|Q|Human|User)\s*:|###\s*(?:Instruction|Input|Response)\b|"
    r"<\|im_start\|>|<\|im_end\|>|"
    r"<\|endoftext\|>|<\|eot_id\|>|<\|end\|>|</s>|<\|user\|>")
TAIL_CHARS = 6000  # fallbacks (anchors, LaTeX spans, last number) look only at the end of very long outputs


def truncate(text: str) -> str:
    """Cut at the first continuation marker that follows some content."""
    for m in _CONTINUATION.finditer(text):
        if m.start() > 0 and re.search(r"[\d}]", text[: m.start()]):
            return text[: m.start()]
    return text


# --- GSM8K-style: one number ---------------------------------------------------------------------------
_NUM = re.compile(
    r"(?<![\w.\\])(?P<neg>-\s?)?(?:\\?\$|€|£|¥|₹)?\s?(?P<neg2>-)?"
    r"(?:\\[dt]?frac\{(?P<fn>\d+)\}\{(?P<fd>\d+)\}"
    r"|(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?:\s?/\s?(?P<den>\d+)(?![\d.]))?)"
    r"(?P<pct>\s?(?:\\?%|percent\b))?(?P<scale>\s(?:thousand|million|billion)\b)?")
_SCALE = {"thousand": 1000, "million": 10**6, "billion": 10**9}
_MIXED_AT = re.compile(r"(-?\d+)\s+(\d+/\d+)(?![\d/.])")
_PLEASANTRIES = re.compile(r"(?i)\bI hope\b|\blet me know\b|\bhope this helps\b|\n\s*note:")
_OPERATOR_AFTER = re.compile(r"\s*(?:[-+*/×÷^]|x\s*\d|\\times|\\cdot)")
_ANCHOR = re.compile(
    r"(?i)(?:final\s+answer|answer)\s*(?:is|was|would\s+be|will\s+be|should\s+be|:|=)\s*:?|"
    r"\btherefore,?\s+the\s+(?:total|result)\s+is|\bthe\s+answer\b\s*(?=\$?-?\d)")
_SENTENCE_END = re.compile(r"\.(?:\s|$)|\n|[!?;]|\bI hope\b")
_HASH_RULE = re.compile(r"\s*(?:%|percent|[a-zA-Z$€£¥]+(?:\s+[a-zA-Z]+){0,3})?\s*[.!]?\s*")


@dataclass(frozen=True)
class NumAnswer:
    text: str        # canonical display: "18", "0.75", "3/4", "25%"
    num: Num | None  # None when the extracted answer is not a number (then only text is compared)
    percent: bool = False


def _num_from_match(m: re.Match) -> tuple[Num, bool] | None:
    neg = bool(m.group("neg") or m.group("neg2"))
    if m.group("fn"):
        n = parse_number(f"{m.group('fn')}/{m.group('fd')}")
    elif m.group("den"):
        n = parse_number(f"{m.group('num').replace(',', '')}/{m.group('den')}")
    else:
        n = parse_number(m.group("num"))
    if n is None:
        return None
    if m.group("scale"):
        n = Num(n.value * _SCALE[m.group("scale").strip()], False)
    return (Num(-n.value, n.decimal) if neg else n), bool(m.group("pct"))


def _answer(n: Num, pct: bool) -> NumAnswer:
    return NumAnswer(format_fraction(n.value) + ("%" if pct else ""), n, pct)


def _first_number(segment: str) -> NumAnswer | None:
    """The answer in 'The answer is ...': the first number, or the result of '5 + 3 = 8'."""
    seg = re.sub(r"(?<=\d) (?=\d{3}(?!\d))", "", clean_number_text(segment))  # "1 000" in an answer
    matches = list(_NUM.finditer(seg))
    if not matches:
        words = WORD_NUMBER.search(seg)
        value = words_to_number(words.group(0)) if words else None
        return None if value is None else _answer(Num(Fraction(value)), False)
    first = matches[0]
    mixed = _MIXED_AT.match(seg, first.start() + (1 if seg[first.start()] == "$" else 0))
    if mixed:
        n = parse_number(f"{mixed.group(1)} {mixed.group(2)}", mixed=True)
        if n is not None:
            return _answer(n, False)
    if _OPERATOR_AFTER.match(seg, first.end()) and "=" in seg[first.end():]:
        after_eq = [m for m in matches if m.start() > seg.rfind("=")]
        if after_eq:
            first = after_eq[0]
    parsed = _num_from_match(first)
    return None if parsed is None else _answer(*parsed)


def _mixed_or_number(text: str) -> NumAnswer | None:
    t = clean_number_text(text).strip().strip("$").strip()
    t = re.sub(r"\\text\{[^{}]*\}|\\mbox\{[^{}]*\}|\\[,;!]|\\\$|\\%|%|\s*(?:dollars?|cents?)\b", " ", t).strip()
    n = parse_number(t, mixed=True)
    return _answer(n, "%" in text) if n is not None else None


def extract_number(text: str) -> NumAnswer | None:
    """GSM8K extraction: '#### N', then \\boxed{N}, then 'The answer is N', then the last number."""
    text = truncate(text)
    for m in re.finditer(r"####[ \t]*([^\n]*)", text):
        line = re.sub(r"(?<=\d)[ ,](?=\d{3}(?!\d))", "", clean_number_text(m.group(1)))
        nm = _NUM.search(line)
        if nm and nm.start() <= 2 and _HASH_RULE.fullmatch(line[nm.end():]):
            parsed = _num_from_match(nm)
            if parsed:
                return _answer(*parsed)
    span = last_boxed_span(text)
    if span is not None:
        content = text[span[0]: span[1]]
        found = _mixed_or_number(content) or _first_number(re.sub(r"\\text\{([^{}]*)\}", r"\1", content))
        if found is not None:
            return found
        if content.strip():
            return NumAnswer(content.strip(), None)
    tail = text[-TAIL_CHARS:]
    anchors = list(_ANCHOR.finditer(tail))
    for a in reversed(anchors):
        rest = tail[a.end(): a.end() + 300]
        if re.match(r"\s*not\b", rest):  # "the answer is not 20, it is 18"
            continue
        end = _SENTENCE_END.search(rest)
        found = _first_number(rest[: end.start()] if end else rest)
        if found is not None:
            return found
    whole = _mixed_or_number(tail)
    if whole is not None:
        return whole
    polite = _PLEASANTRIES.search(tail)
    if polite and re.search(r"\d", tail[: polite.start()]):  # "...$18. Let me know if you have 2 more!"
        tail = tail[: polite.start()]
    cleaned = clean_number_text(tail)
    last = None
    for last in _NUM.finditer(cleaned):
        pass
    if last is not None:
        parsed = _num_from_match(last)
        if parsed:
            return _answer(*parsed)
    words = list(WORD_NUMBER.finditer(tail))
    value = words_to_number(words[-1].group(0)) if words else None
    if value is not None:
        return _answer(Num(Fraction(value)), False)
    return None


# --- MATH-style: a LaTeX answer --------------------------------------------------------------------------
_BOX_SEP = re.compile(r"(?:\s|\$|,|;|\band\b|\bor\b|\\text\{\s*(?:and|or|,)?\s*\}|\\q?quad|\\[,;]|~|\\\]|\\\[)*")
_MINERVA = re.compile(r"(?i)final answer is\s*:?\s*(?P<a>.{1,400}?)\s*\.?\s*(?:I hope|$)", re.DOTALL)
_SPANS = re.compile(r"\$\$(?P<d>[^$]{1,2000})\$\$|\\\[(?P<b>.{1,2000}?)\\\]|(?<!\\)\$(?P<i>(?:\\\$|[^$\n]){1,400}?)(?<!\\)\$|"
                    r"\\\((?P<p>.{1,400}?)\\\)", re.DOTALL)
_PLAIN_NUM = re.compile(r"(?<![\w.\\])-?\d+(?:,\d{3})*(?:\.\d+)?(?:\s*/\s*\d+)?")
_UNIT_WORDS = {"cm", "km", "mm", "ft", "in", "kg", "mg", "lb", "lbs", "oz", "hr", "hrs", "min", "sec", "mph",
               "sq", "unit", "units", "degree", "degrees", "dollar", "dollars", "cents", "meters", "metres",
               "miles", "feet", "inches", "hours", "minutes", "seconds", "days", "pi", "sqrt", "frac"}


def boxed_answers(text: str) -> list[str]:
    """[last boxed content] plus, when boxes sit side by side ('$\\boxed{3}$ or $\\boxed{5}$'), all of them."""
    boxes, end = [], len(text)
    while len(boxes) < 6:
        span = last_boxed_span(text[:end])
        if span is None:
            break
        start = max(text.rfind("\\boxed", 0, span[0]), text.rfind("\\fbox", 0, span[0]))
        if boxes and not _BOX_SEP.fullmatch(text[span[1] + 1: boxes[-1][0]]):
            break
        boxes.append((start, span[0], span[1]))
        end = start
    contents = [text[b[1]: b[2]].strip() for b in reversed(boxes)]
    if not contents:
        return []
    return [contents[-1]] + ([", ".join(contents)] if len(contents) > 1 else [])


def looks_bare(text: str) -> bool:
    """A bare answer ('\\frac{1}{2}', 'x = 5', '125 miles', '\\text{Evelyn}'), not a sentence."""
    s = text.strip()
    if not s or "\n" in s or len(s) > 200:
        return False
    whole = _SPANS.fullmatch(s)
    if whole is None and re.search(r"(?<!\\)\$|\\[(\[]", s):  # prose around math: "Answer $9$"
        return False
    t = re.sub(r"\\(?:text|mbox|mathrm|textbf|begin|end)\{[^{}]*\}|\\[a-zA-Z]+", " ", s)
    words = [w for w in re.findall(r"[a-zA-Z]{2,}", t) if w.lower() not in _UNIT_WORDS]
    return len(words) <= 1


def _candidates(segment: str) -> list[str]:
    """Math spans and plain numbers in `segment`, in reading order."""
    found = []
    for m in _SPANS.finditer(segment):
        body = next(g for g in m.groups() if g is not None).strip()
        if body:
            found.append((m.start(), body))
    outside = _SPANS.sub(lambda m: " " * (m.end() - m.start()), segment)
    found += [(m.start(), m.group(0)) for m in _PLAIN_NUM.finditer(outside)]
    return [body for _, body in sorted(found)]


def _rightmost_candidate(segment: str) -> str | None:
    found = _candidates(segment)
    return found[-1] if found else None


def _anchored_candidate(segment: str) -> str | None:
    """After 'the answer is': the first candidate with a digit ('$\\frac{2}{3}$, about 0.67' -> 2/3), skipping
    names of things ('the domain of $f(x)$ is 19' -> 19); with no digit anywhere, the last candidate."""
    found = _candidates(segment)
    with_digit = [c for c in found if re.search(r"\d", c) and not re.fullmatch(r"[a-zA-Z]\(\s*[a-z0-9]\s*\)", c)]
    return with_digit[0] if with_digit else (found[-1] if found else None)


def extract_latex(text: str) -> list[str]:
    """MATH extraction: candidate answers, primary first (empty when nothing answer-like is found)."""
    text = truncate(text)
    boxed = boxed_answers(text)
    if boxed:
        return boxed
    hashes = re.search(r"^[ \t]*####[ \t]*(\S[^\n]*)", text, re.MULTILINE)  # GSM8K-style responses
    if hashes and not re.match(r"\d+\.\s+[A-Z]", hashes.group(1)):  # not a '#### 1. Step' heading
        return [strip_math(hashes.group(1))]
    tail = text[-TAIL_CHARS:]
    m = None
    for m in _MINERVA.finditer(tail):
        pass
    if m is not None:
        ans = m.group("a").strip()
        spans = list(_SPANS.finditer(ans))
        if len(spans) == 1 and spans[0].start() == 0:
            return [next(g for g in spans[0].groups() if g is not None).strip()]
        return [ans.strip("$ ")] if looks_bare(ans) else ([c] if (c := _anchored_candidate(ans)) else [])
    for a in reversed(list(_ANCHOR.finditer(tail))):
        rest = tail[a.end(): a.end() + 500]
        outside = _SPANS.sub(lambda s: " " * (s.end() - s.start()), rest)
        end = _SENTENCE_END.search(outside)
        seg = rest[: end.start()] if end else rest
        if seg.strip() and looks_bare(seg) and not _SPANS.search(seg):
            return [seg.strip().strip("$").strip()]
        cand = _anchored_candidate(seg)
        if cand:
            return [cand]
    if looks_bare(text):
        return [strip_math(text)]
    cand = _rightmost_candidate(tail)
    if cand:
        return [cand]
    short = text.strip()  # a word answer ("no solution"), not a sentence without any answer in it
    return [short] if short and len(short.split()) <= 3 and "\n" not in short else []


def strip_math(s: str) -> str:
    s = s.strip()
    m = _SPANS.fullmatch(s)
    if m:
        return next(g for g in m.groups() if g is not None).strip()
    return s.strip("$").strip()
