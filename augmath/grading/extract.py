"""Find the final answer in free-form text: GSM8K-style numbers and MATH-style LaTeX answers.

Both kinds first cut the text where a model starts a new turn or invents the next few-shot question
("Question:", "### Instruction", "<|im_start|>", ...): numbers after that belong to a hallucinated problem.
Text in other languages has its full-width digits and colons made ASCII and is also searched for the answer words
of a dozen languages ('答案是', 'Réponse :', 'Ответ:', ...); pure-ASCII text never pays for either (one
str.isascii() call), and English text with a curly quote or a '×' pays one character-class scan.
Every regex here is linear or bounded, so a megabyte of junk costs milliseconds, never a hang.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from augmath.grading.boxed import last_boxed_span
from augmath.grading.numbers import (MAX_DIGITS, WORD_NUMBER, Num, clean_number_text, format_fraction, parse_number,
                                     words_to_number)

_CONTINUATION = re.compile(
    r"(?:\n|[.!?]\s)\s*(?:Question|Problem|Q|Human|User)\s*:|###\s*(?:Instruction|Input|Response)\b|"
    r"<\|im_start\|>|<\|im_end\|>|"
    r"<\|endoftext\|>|<\|eot_id\|>|<\|end\|>|</s>|<\|user\|>")
TAIL_CHARS = 6000  # fallbacks (anchors, LaTeX spans, last number) look only at the end of very long outputs
MAX_EXPONENT = 300  # '1e999999999' is kept as text (equal only to the same text), never expanded


def truncate(text: str) -> str:
    """Cut at the first continuation marker that follows some content."""
    for m in _CONTINUATION.finditer(text):
        if m.start() > 0 and re.search(r"[\d}]", text[: m.start()]):
            return text[: m.start()]
    return text


_FULL_WIDTH = re.compile("[\uff01-\uff5e\u3000]")
# text that may hold answer words of other languages: another script, or accented Latin letters and one of the
# Latin-script answer words (character-class scans first: English with a curly quote or a 'x' stops there)
_NON_LATIN = re.compile("[^\x00-\u024f\u2000-\u22ff]")
_ACCENTED = re.compile("[\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0110\u0111\u1ea0-\u1ef9]")
_LATIN_ANSWER_WORD = re.compile("(?i)r[ée]ponse|antwort|ergebnis|respuesta|resposta|risposta|đáp|câu trả")


def _foreign(tail: str) -> bool:
    if tail.isascii():
        return False
    return bool(_NON_LATIN.search(tail) or (_ACCENTED.search(tail) and _LATIN_ANSWER_WORD.search(tail)))


def _prepare(text: str) -> str:
    """Full-width digits, colons, brackets and spaces to ASCII (ASCII text costs one isascii() call)."""
    if text.isascii() or not _FULL_WIDTH.search(text):
        return text
    return _FULL_WIDTH.sub(lambda m: " " if m.group() == "\u3000" else chr(ord(m.group()) - 0xFEE0), text)


# --- answer words in other languages (only searched in non-ASCII text) ------------------------------------------
_ANCHOR_INTL = re.compile(
    r"(?i)(?:最终答案|答案|答)\s*(?:是|为|為|:)?\s*:?"                       # zh
    r"|答え\s*(?:は|:)"                                                   # ja
    r"|정답\s*(?:은|:)|답\s*(?:은|:)"                                        # ko
    r"|réponse\s*(?:finale\s*)?(?:est|:)"                                  # fr
    r"|antwort\s*(?:ist|lautet|:)|ergebnis\s*(?:ist|lautet|:)"              # de
    r"|respuesta\s*(?:final\s*)?(?:es|:)"                                  # es
    r"|resposta\s*(?:final\s*)?(?:é|:)"                                    # pt
    r"|risposta\s*(?:finale\s*)?(?:è|:)"                                   # it
    r"|ответ\s*(?::|—|-|равен)"                                            # ru
    r"|đáp án\s*(?:là|:)|câu trả lời\s*(?:là|:)"                           # vi
    r"|الإجابة\s*(?:هي|:)|الجواب\s*(?:هو|:)"                                # ar
    r"|उत्तर\s*(?:है|:)")                                                  # hi
# sentences that restate the result ("Therefore, she makes $18 ...")
_CONCLUDE = re.compile(
    r"(?i)\s*(?:(?:therefore|thus|so|hence|consequently|altogether|overall|finally|together|in total|in all|"
    r"all in all|that means|this means|in conclusion|as a result)\b"
    r"|所以|因此|因而|总共|一共|总计|综上|したがって|よって|つまり|따라서|그러므로"
    r"|(?:donc|ainsi|au total|en tout|also|insgesamt|somit|daher|por lo tanto|así que|entonces|en total|portanto|"
    r"então|quindi|dunque|in totale|итого|значит|поэтому|таким образом|vậy|do đó|"
    r"لذلك|إذن|इसलिए)\b)")
# words after a computed result that say the computation goes on ("= 7 apples, then she gives 2 away")
_CONTINUES = re.compile(
    r"(?i)\b(?:then|leaving|leaves|left|remain\w*|minus|plus|subtract\w*|add\w*|give\w*|gave|spen[dt]\w*|los[et]\w*|"
    r"sell\w*|sold|buy\w*|bought|more|less|fewer|times|divided|multipl\w*|after|each|per)\b")
_NEW_CLAUSE = r"\s(?=(?:Therefore|Thus|Hence|Consequently|So|Finally|Altogether|Overall|In total)\b)"
_SENTENCE_SPLIT = re.compile(r"[.!?](?:\s+|$)|[。！？]|\n+|" + _NEW_CLAUSE)


# --- GSM8K-style: one number ---------------------------------------------------------------------------
def _num_regex(decimal_comma: bool) -> re.Pattern:
    dc = r"|(?<!\d,)\d+,\d{1,2}(?![\d,])|0,\d+(?![\d,])" if decimal_comma else ""
    return re.compile(
        r"(?<![A-Za-z0-9_.\\])(?P<neg>-\s?)?(?:\\?\$|€|£|¥|₹)?\s?(?P<neg2>-)?"
        r"(?:\\[dt]?frac\{(?P<fn>\d+)\}\{(?P<fd>\d+)\}"
        r"|(?P<num>(?!0,)\d{1,3}(?:,\d{3})+(?:\.\d+)?" + dc + r"|\d+(?:\.\d+)?|\.\d+)"
        r"(?:\s?/\s?(?P<den>\d+)(?![\d.]))?)"
        r"(?P<exp>[eE](?P<e1>[-+]?\d+)(?![\d.])"
        r"|\s?(?:\\times|×|\*|\\cdot)\s?10\s?\^\s?(?:\{\s?(?P<e2>[-+]?\d+)\s?\}|(?P<e3>[-+]?\d+)))?"
        r"(?P<pct>\s?(?:\\?%|percent\b))?(?P<scale>\s(?:thousand|million|billion)\b)?")


_NUMS = {True: _num_regex(True), False: _num_regex(False)}
_SCALE = {"thousand": 1000, "million": 10**6, "billion": 10**9}
_MIXED_AT = re.compile(r"(-?\d+)\s+(\d+/\d+)(?![\d/.])")
_PLEASANTRIES = re.compile(r"(?i)\bI hope\b|\blet me know\b|\bhope this helps\b|\n\s*note:")
_OPERATOR_AFTER = re.compile(r"\s*(?:[-+*/×÷^]|x\s*\d|\\times|\\cdot)")
_ANCHOR = re.compile(
    r"(?i)(?:final\s+answer|answer)\s*(?:is|was|would\s+be|will\s+be|should\s+be|:|=)\s*:?|"
    r"\btherefore,?\s+the\s+(?:total|result)\s+is|\bthe\s+answer\b\s*(?=\$?-?\d)")
_SENTENCE_END = re.compile(r"\.(?:\s|$)|\n|[!?;。！？；]|\bI hope\b")
_HASH_RULE = re.compile(r"\s*(?:%|percent|[a-zA-Z$€£¥]+(?:\s+[a-zA-Z]+){0,3})?\s*[.!]?\s*")
# a boxed GSM8K answer that is an expression, not a number: compared as a MATH answer (\sqrt{4} == 2, 10^{10} != 10)
_EXPRESSION = re.compile(r"\\(?:sqrt|pi|log|ln|sin|cos|tan|binom|cdot|times)(?![a-zA-Z])|\^|!|\\frac\{[^{}]*[a-z\\]")


def _anchors(tail: str) -> list[re.Match]:
    """'The answer is' and, in text of another language, its translations; in reading order."""
    anchors = list(_ANCHOR.finditer(tail))
    if _foreign(tail):
        anchors = sorted(anchors + list(_ANCHOR_INTL.finditer(tail)), key=lambda a: a.start())
    return anchors


@dataclass(frozen=True)
class NumAnswer:
    text: str        # canonical display: "18", "0.75", "3/4", "25%"
    num: Num | None  # None when the extracted answer is not a number (then only text is compared)
    percent: bool = False
    exact: bool = False  # a number too large to convert (5,000 digits, 1e999999999): equal only to the same text


def _window(text: str, start: int, size: int) -> str:
    """text[start: start + size], not cutting a number in two (a 5,000-digit answer stays whole)."""
    end = start + size
    more = re.match(r"[\d,]+", text[end:]) if end < len(text) and text[end - 1].isdigit() else None
    return text[start: end + (more.end() if more else 0)]


def _num_from_match(m: re.Match) -> NumAnswer | None:
    neg = bool(m.group("neg") or m.group("neg2"))
    digits = (m.group("num") or "").replace(",", "")
    exponent = m.group("e1") or m.group("e2") or m.group("e3")
    if len(digits) > MAX_DIGITS or (exponent and (len(exponent) > 6 or abs(int(exponent)) > MAX_EXPONENT)):
        text = (digits.lstrip("0") or "0") + (f"e{exponent.lstrip('+')}" if exponent else "")
        return NumAnswer(("-" if neg else "") + text, None, exact=True)
    if m.group("fn"):
        n = parse_number(f"{m.group('fn')}/{m.group('fd')}")
    elif m.group("den"):
        n = parse_number(f"{digits}/{m.group('den')}")
    else:
        n = parse_number(m.group("num"), decimal_comma=True)
    if n is None:
        return None
    if exponent:
        n = Num(n.value * Fraction(10) ** int(exponent), True)
    if m.group("scale"):
        n = Num(n.value * _SCALE[m.group("scale").strip()], False)
    return _answer(Num(-n.value, n.decimal) if neg else n, bool(m.group("pct")))


def _answer(n: Num, pct: bool) -> NumAnswer:
    return NumAnswer(format_fraction(n.value) + ("%" if pct else ""), n, pct)


def _first_number(segment: str, num_re: re.Pattern) -> NumAnswer | None:
    """The answer in 'The answer is ...': the first number, or the result of '5 + 3 = 8'."""
    seg = re.sub(r"(?<=\d) (?=\d{3}(?!\d))", "", clean_number_text(segment))  # "1 000" in an answer
    matches = list(num_re.finditer(seg))
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
    return _num_from_match(first)


def _mixed_or_number(text: str, decimal_comma: bool) -> NumAnswer | None:
    t = clean_number_text(text).strip().strip("$").strip()
    t = re.sub(r"\\text\{[^{}]*\}|\\mbox\{[^{}]*\}|\\[,;!]|\\\$|\\%|%|\s*(?:dollars?|cents?)\b", " ", t).strip()
    t = re.sub(r"(?<=\d) (?=\d{3}(?!\d))", "", t)  # '1 000'
    n = parse_number(t, mixed=True, decimal_comma=decimal_comma)
    return _answer(n, "%" in text) if n is not None else None


def _boxed_number(content: str, num_re: re.Pattern, decimal_comma: bool) -> NumAnswer | None:
    found = _mixed_or_number(content, decimal_comma)
    if found is not None:
        return found
    whole = num_re.fullmatch(clean_number_text(content).strip())
    if whole is not None:
        return _num_from_match(whole)
    if "=" not in content and _EXPRESSION.search(content):
        return NumAnswer(content.strip(), None)  # \sqrt{4}, 10^{10}: an expression, compared as a MATH answer
    found = _first_number(re.sub(r"\\text\{([^{}]*)\}", r"\1", content), num_re)
    if found is not None:
        return found
    return NumAnswer(content.strip(), None) if content.strip() else None


def _concluding_number(text: str, num_re: re.Pattern) -> NumAnswer | None:
    """The result restated in the last sentence, when the last number is not it:
    '... = 20 cups of feed, which she serves at 6 pm' -> 20 (the last '=' of the sentence, nothing computed after);
    'Therefore, Janet makes $18 every day by selling 9 eggs at $2 each' -> 18 (the last result computed anywhere)."""
    body = text.rstrip().rstrip(".!?。！？ ").rstrip()
    last = next((t for t in reversed(_SENTENCE_SPLIT.split(body)) if re.search(r"\d", t)), "")
    if "=" in last:
        after = clean_number_text(last[last.rfind("=") + 1:])
        m = num_re.search(after)
        if m and m.start() <= 3 and "=" not in after[m.end():] and not _CONTINUES.search(after[m.end():]):
            return _num_from_match(m)
    if not _CONCLUDE.match(last) or "=" not in body:
        return None
    result = num_re.search(clean_number_text(body[body.rfind("=") + 1:]))
    r = _num_from_match(result) if result and result.start() <= 3 else None
    if r is None or r.num is None:
        return None
    for m in num_re.finditer(clean_number_text(last)):
        a = _num_from_match(m)
        if a is not None and a.num is not None and a.num.value == r.num.value:
            return a
    return None


def extract_number(text: str, decimal_comma: bool = True) -> NumAnswer | None:
    """GSM8K extraction: '#### N', then \\boxed{N}, then 'The answer is N', then the restated result of the last
    sentence, then the last number (see _concluding_number)."""
    num_re = _NUMS[decimal_comma]
    text = truncate(_prepare(text))
    for m in re.finditer(r"####[ \t]*([^\n]*)", text):
        line = re.sub(r"(?<=\d)[ ,](?=\d{3}(?!\d))", "", clean_number_text(m.group(1)))
        nm = num_re.search(line)
        if nm and nm.start() <= 2 and _HASH_RULE.fullmatch(line[nm.end():]):
            found = _num_from_match(nm)
            if found:
                return found
    span = last_boxed_span(text)
    if span is not None:
        found = _boxed_number(text[span[0]: span[1]], num_re, decimal_comma)
        if found is not None:
            return found
    tail = text[-TAIL_CHARS:]
    for a in reversed(_anchors(tail)):
        rest = _window(tail, a.end(), 300)
        if re.match(r"\s*not\b", rest):  # "the answer is not 20, it is 18"
            continue
        end = _SENTENCE_END.search(rest)
        found = _first_number(rest[: end.start()] if end else rest, num_re)
        if found is not None:
            return found
    whole = _mixed_or_number(tail, decimal_comma)
    if whole is not None:
        return whole
    polite = _PLEASANTRIES.search(tail)
    if polite and re.search(r"\d", tail[: polite.start()]):  # "...$18. Let me know if you have 2 more!"
        tail = tail[: polite.start()]
    found = _concluding_number(tail, num_re)
    if found is not None:
        return found
    cleaned = clean_number_text(tail)
    if decimal_comma:  # '1 250,50 €': space-grouped thousands before a decimal comma
        cleaned = re.sub(r"(?<![\d,.])\d{1,3}(?: \d{3})+(?=,\d{1,2}(?![\d,]))", lambda m: m.group(0).replace(" ", ""),
                         cleaned)
    last = None
    for last in num_re.finditer(cleaned):
        pass
    if last is not None:
        found = _num_from_match(last)
        if found:
            return found
    words = list(WORD_NUMBER.finditer(tail))
    value = words_to_number(words[-1].group(0)) if words else None
    if value is not None:
        return _answer(Num(Fraction(value)), False)
    return None


# --- MATH-style: a LaTeX answer --------------------------------------------------------------------------
_BOX_SEP = re.compile(r"(?:\s|\$|,|;|\band\b|\bor\b|\\text\{\s*(?:and|or|,)?\s*\}|\\q?quad|\\[,;]|~"
                      r"|\\\]|\\\[|\\\(|\\\))*")
_MINERVA = re.compile(r"(?i)final answer is\s*:?\s*(?P<a>.{1,400}?)\s*\.?\s*(?:I hope|$)", re.DOTALL)
_SPANS = re.compile(r"\$\$(?P<d>[^$]{1,2000})\$\$|\\\[(?P<b>.{1,2000}?)\\\]|(?<!\\)\$(?P<i>(?:\\\$|[^$\n]){1,400}?)(?<!\\)\$|"
                    r"\\\((?P<p>.{1,400}?)\\\)", re.DOTALL)
_PLAIN_NUM = re.compile(r"(?<![A-Za-z0-9_.\\])-?\d+(?:,\d{3})*(?:\.\d+)?(?:\s*/\s*\d+)?")
_BARE_LATEX = re.compile(r"-?\d*\\[dt]?frac\{[^{}$]{1,60}\}\{[^{}$]{1,60}\}|-?\d*\\sqrt\{[^{}$]{1,60}\}")
_UNIT_WORDS = {"cm", "km", "mm", "ft", "in", "kg", "mg", "lb", "lbs", "oz", "hr", "hrs", "min", "sec", "mph",
               "sq", "unit", "units", "degree", "degrees", "dollar", "dollars", "cents", "meters", "metres",
               "miles", "feet", "inches", "hours", "minutes", "seconds", "days", "pi", "sqrt", "frac"}
# between two boxes, or two answers in prose: 'and', 'or', ',' (and a label such as 'y_2 =' or 'n =')
_JOIN_WORDS = {"and", "or", "et", "ou", "und", "oder", "y", "o", "e", "и", "или", "和", "或", "与", "及"}
_GAP_LABEL = re.compile(r"[A-Za-z](?:_\{?\w+\}?)?\s*=|\\text\{\s*|\\[a-zA-Z]+|[{}()\\$,;:.~]")
_PARTS = re.compile(r"(?i)(?:^|[\s(])(?:part\s*)?\(?[a-d]\)\s|\bpart\s*\(?[a-d]\b")


def _joinable(gap: str) -> bool:
    """Is the text between two answers a plain separator ('and', ', ', '\\quad\\text{or}\\quad', '$ and $')?"""
    if _BOX_SEP.fullmatch(gap):
        return True
    words = re.findall(r"[^\W\d_]+", _GAP_LABEL.sub(" ", gap))
    if not words:
        return True  # only symbols between the boxes ('++++')
    return len(words) <= 2 and any(w.lower() in _JOIN_WORDS for w in words)


def boxed_answers(text: str) -> list[str]:
    """[last boxed content] plus, when boxes sit side by side ('$\\boxed{3}$ or $\\boxed{5}$') or answer parts
    '(a) ... (b) ...' of the question, all of them."""
    boxes, end = [], len(text)
    parts = None
    while len(boxes) < 6:
        span = last_boxed_span(text[:end])
        if span is None:
            break
        start = max(text.rfind("\\boxed", 0, span[0]), text.rfind("\\fbox", 0, span[0]))
        if boxes and not _joinable(text[span[1] + 1: boxes[-1][0]]):
            if parts is None:
                parts = bool(_PARTS.search(text))
            if not parts:
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
    words = [w for w in re.findall(r"[a-zA-Z]{2,}", t) if w.lower() not in _UNIT_WORDS
             and not re.fullmatch(r"[A-Z]{2,3}", w)]  # 'AC = 5', '\\frac{NO}{BO}': names of segments are not words
    if not s.isascii() and len(re.findall(r"[^\W\d_a-zA-Z]", t)) >= 2:
        return False  # a sentence in another script ('答案是 18 个'), not a bare answer ('2π', 'x ≤ 5')
    return len(words) <= 1


def _spans(segment: str) -> tuple[list[tuple[int, int, str]], str]:
    """Math spans, bare LaTeX fractions/roots and plain numbers in `segment` as (start, end, text) in reading order,
    and the segment with its math spans blanked out (one pass of each regex)."""
    found, pieces, pos = [], [], 0
    for m in _SPANS.finditer(segment):
        body = next(g for g in m.groups() if g is not None).strip()
        if body:
            found.append((m.start(), m.end(), body))
        pieces += [segment[pos: m.start()], " " * (m.end() - m.start())]
        pos = m.end()
    outside = "".join(pieces) + segment[pos:] if pieces else segment
    numbers_in = outside
    if "\\" in outside:
        for m in _BARE_LATEX.finditer(outside):
            found.append((m.start(), m.end(), m.group(0)))
        numbers_in = _BARE_LATEX.sub(lambda m: " " * (m.end() - m.start()), outside)
    found += [(m.start(), m.end(), m.group(0)) for m in _PLAIN_NUM.finditer(numbers_in)]
    return sorted(found), outside


def _joined(segment: str, found: list[tuple[int, int, str]], i: int) -> str | None:
    """The answers joined to found[i] by 'and' / 'or' / ',' ('$2$ and $5$' -> '2, 5'), or None."""
    lo = hi = i
    while lo > 0 and i - lo < 5 and _joinable(segment[found[lo - 1][1]: found[lo][0]]) \
            and _has_joiner(segment[found[lo - 1][1]: found[lo][0]]):
        lo -= 1
    while hi + 1 < len(found) and hi - lo < 5 and _joinable(segment[found[hi][1]: found[hi + 1][0]]) \
            and _has_joiner(segment[found[hi][1]: found[hi + 1][0]]):
        hi += 1
    return ", ".join(f[2] for f in found[lo: hi + 1]) if hi > lo else None


def _has_joiner(gap: str) -> bool:
    return bool(re.search(r",|\b(?:and|or)\b|\\text\{\s*(?:and|or)\s*\}|[和或]", gap))


def _with_value(cand: str) -> list[str]:
    """'a^2 + b^2 = 25' in prose -> ['25', 'a^2 + b^2 = 25']: the value the sentence concludes with, then the whole.
    Not for '2x = 10' (an equation to solve, not a quantity named by its expression)."""
    parts = cand.split("=")
    lhs, value = parts[0].strip(), parts[-1].strip()
    no_commands = lambda t: re.sub(r"\\(?:frac|dfrac|sqrt|pi|cdot|times|left|right)(?![a-zA-Z])", "", t)  # noqa: E731
    if len(parts) >= 2 and value and re.search(r"[a-zA-Z]", lhs) and not re.search(r"[a-zA-Z]", no_commands(value)) \
            and not re.match(r"-?\d+\s*[a-zA-Z(]", no_commands(lhs)):
        return [value, cand]
    return [cand]


def _rightmost_candidates(segment: str, found: list[tuple[int, int, str]]) -> list[str]:
    if not found:
        return []
    joined = _joined(segment, found, len(found) - 1)
    return [found[-1][2]] + ([joined] if joined else [])


def _anchored_candidates(segment: str) -> list[str]:
    """After 'the answer is': the first candidate with a digit ('$\\frac{2}{3}$, about 0.67' -> 2/3), skipping
    names of things ('the domain of $f(x)$ is 19' -> 19); with no digit anywhere, the last candidate."""
    found, _ = _spans(segment)
    if not found:
        return []
    for i, (_, _, c) in enumerate(found):
        if re.search(r"\d", c) and not re.fullmatch(r"[a-zA-Z]\(\s*[a-z0-9]\s*\)", c):
            joined = _joined(segment, found, i)
            return _with_value(c) + ([joined] if joined else [])
    return [found[-1][2]]


def _sentence_end(rest: str) -> int | None:
    outside = _SPANS.sub(lambda s: " " * (s.end() - s.start()), rest)
    end = _SENTENCE_END.search(outside)
    return end.start() if end else None


_SENTENCE_START = re.compile(r"(?:^|[.!?;]\s+|[。！？；]|\n|" + _NEW_CLAUSE + ")")


def _concluding_candidates(tail: str, found: list[tuple[int, int, str]], outside: str) -> list[str]:
    """When the last sentence that holds an answer starts with 'Therefore' / 'Thus' / 'So' / 'Hence' ..., its first
    answer ('Thus the area is $24$, half of the rectangle's $48$.' -> 24); otherwise nothing."""
    if not found:
        return []
    last = found[-1][0]
    start, end = 0, len(tail)
    for m in _SENTENCE_START.finditer(outside):
        if m.end() <= last:
            start = m.end()
        elif m.start() >= found[-1][1]:
            end = m.start()
            break
    if not _CONCLUDE.match(outside, start):
        return []
    cands = _anchored_candidates(tail[start:end])
    return cands if cands and re.search(r"\d", cands[0]) else []


def _minerva_candidates(m: re.Match) -> list[str]:
    ans = m.group("a").strip()
    spans = list(_SPANS.finditer(ans))
    if len(spans) == 1 and spans[0].start() == 0:
        return [next(g for g in spans[0].groups() if g is not None).strip()]
    return [ans.strip("$ ")] if looks_bare(ans) else _anchored_candidates(ans)


def extract_latex(text: str) -> list[str]:
    """MATH extraction: candidate answers, primary first (empty when nothing answer-like is found)."""
    text = truncate(_prepare(text))
    boxed = boxed_answers(text)
    if boxed:  # a Minerva sentence with an answer after the last box is the later, final word
        after = text[last_boxed_span(text)[1]:][-TAIL_CHARS:]
        if "answer is" in after.lower():
            m = None
            for m in _MINERVA.finditer(after):
                pass
            cands = _minerva_candidates(m) if m is not None else []
            if cands and re.search(r"\d", cands[0]):
                return cands
        return boxed
    tail = text[-TAIL_CHARS:]
    m = None
    for m in _MINERVA.finditer(tail):
        pass
    hashes = re.search(r"^[ \t]*####[ \t]*(\S[^\n]*)", text, re.MULTILINE)  # GSM8K-style responses
    if hashes and not re.match(r"\d+\.\s+[A-Z]", hashes.group(1)):  # not a '#### 1. Step' heading
        return [strip_math(hashes.group(1))]
    if m is not None:
        return _minerva_candidates(m)
    for a in reversed(_anchors(tail)):
        rest = _window(tail, a.end(), 500)
        end = _sentence_end(rest)
        seg = rest[:end] if end is not None else rest
        if seg.strip() and looks_bare(seg) and not _SPANS.search(seg):
            return [seg.strip().strip("$").strip()]
        cands = _anchored_candidates(seg)
        if cands:
            return cands
    if looks_bare(text):
        return [strip_math(text)]
    found, outside = _spans(tail)
    cands = _concluding_candidates(tail, found, outside) or _rightmost_candidates(tail, found)
    if cands:
        return cands
    short = text.strip()  # a word answer ("no solution"), not a sentence without any answer in it
    return [short] if short and len(short.split()) <= 3 and "\n" not in short else []


def strip_math(s: str) -> str:
    s = s.strip()
    m = _SPANS.fullmatch(s)
    if m:
        return next(g for g in m.groups() if g is not None).strip()
    return s.strip("$").strip()
