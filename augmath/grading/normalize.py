"""Canonical text for MATH-style answers: the grader's cheap path compares these strings.

Every rewrite here must keep different answers different (the fast path says "equal" on string equality,
with no sympy behind it), so each rule is narrow: units are dropped only when they trail a value, thousands
commas only when the whole answer is one number without spaces, "x =" only when the left side is a bare
variable, and so on. Anything unusual is left alone for the symbolic check to decide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

MAX_ANSWER_CHARS = 1000  # longer "answers" are garbage (or attacks): string equality only, never sympy

_NEG_SPACE = re.compile(r"(?<!\\)\\!\s*")
_SPACING = re.compile(r"(?<!\\)\\[,:; ]\s*|\\q?quad\b|~|\\displaystyle|\\textstyle|\\limits")
_LEFT_RIGHT = re.compile(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big)\s*(\\[{}|]|[()\[\]|.]|\\[lr]?[vV]ert|\\langle|\\rangle)?")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\circ|°|\\degree\b|\^\s*\{\s*\\text\{\s*o\s*\}\s*\}")
_PERCENT = re.compile(r"\\?%|\\text\{\s*percent\s*\}|\s*\bpercent(?:age)?\b|\s*\bpct\b")
_TEXT_CMD = re.compile(r"\\(?:text|textnormal|textrm|textbf|textit|mbox|mathrm|mathbf|mathit|operatorname|rm|bf)\s*\{")
_TRAIL_UNIT_TEXT = re.compile(r"\\(?:text|textnormal|textrm|mbox|mathrm)\s*\{\s*[a-zA-Z][a-zA-Z .]*\}(?:\s*\^\s*\{?[23]\}?)?\s*$")
_FUNC_WORDS = {"sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp", "pi", "and", "or", "to", "in", "sqrt",
               "arcsin", "arccos", "arctan", "max", "min", "mod", "gcd", "lcm", "det", "i", "e"}
_TRAIL_WORDS = re.compile(r"^(?P<core>.*?(?:[\d}\)]|\\pi))\s*(?P<words>(?:[a-zA-Z]{2,}\.?\s*)+)(?:\^\{?[23]\}?)?$")
_FRAC_SHORT = re.compile(r"\\frac\s*(\d)\s*(\d)|\\frac\s*(\d)\s*(?=\{)|\\frac\s*(\{[^{}]*\})\s*(\d)")
_SQRT_SHORT = re.compile(r"\\sqrt\s*(\d|[a-zA-Z](?![a-zA-Z]))")
_LEADING_DOT = re.compile(r"(?<![\d}\w])\.(\d)")
_THOUSANDS_WHOLE = re.compile(r"-?\d{1,3}(?:(?:,\d{3})+|(?: \d{3})+)(?:\.\d+)?")
_WS = re.compile(r"\s+")
_THOUSANDS_IN_BRACES = re.compile(r"\{(-?\d{1,3}(?:,\d{3})+(?:\.\d+)?)\}")
_DOUBLE_SLASH_CMD = re.compile(r"\\\\(?=[a-zA-Z])")
_SPACE_BETWEEN = re.compile(r"(?<![a-zA-Z\d]) | (?![a-zA-Z\d])|(?<=[a-zA-Z]) (?=\d)|(?<=\d) (?=[a-zA-Z])")
_AND_OR = re.compile(r"\s*(?:,\s*)?\b(?:and|or)\b\s*|\s*(?:\\text\{\s*(?:and|or)\s*\})\s*")
_CHOICE = re.compile(r"\(?([A-E])\)?")
_SIMPLE_LHS = re.compile(r"(?:[a-zA-Z]|\\[a-zA-Z]+)(?:_\{?[a-zA-Z0-9]+\}?)?(?:'|\(\s*[a-z]\s*\))?")
_TUPLE_LHS = re.compile(r"\((?:\s*[a-zA-Z](?:_\{?\w+\}?)?\s*,)+\s*[a-zA-Z](?:_\{?\w+\}?)?\s*\)")
# The name of a value (policy named_values): 'AC', '|PQ|', '\overline{AB}', 'm\angle ABC', 'a_{10}', 'h(2)', 'P(red)',
# '\tan\theta', '\sin A', 'P:Q', 'V_{1}:V_{2}', '\frac{NO}{BO}'. Never an expression: no digits outside subscripts
# and arguments, no + - * / ^ ('x + y = 5' and '2x = 10' are equations, not named values).
_NAME_ATOM = (r"(?:\|[A-Za-z]{1,3}(?:_\{?\w+\}?)?\||\\overline\{[A-Za-z]{1,3}\}|m?\\angle\s?[A-Za-z]{1,3}"
              r"|\\(?:sin|cos|tan|cot|sec|csc)\s?(?:[A-Za-z]|\\[a-z]+)"
              r"|(?:[A-Za-z]{1,4}|\\[a-zA-Z]+)(?:_\{?[\w,]+\}?)?(?:\([^()=+\-*/^]{1,12}\))?'?)")
NAME = re.compile(rf"{_NAME_ATOM}(?::{_NAME_ATOM})*|\\frac\{{[A-Za-z]{{1,3}}\}}\{{[A-Za-z]{{1,3}}\}}")
_NOT_NAMES = {"sqrt", "frac", "pi", "infty", "ldots", "cdot", "times", "in", "le", "ge", "ne", "lt", "gt", "mid"}
_NUMERIC_SIDE = re.compile(r"(?:[\d.+\-*/^(){}\[\] ]|\\(?:frac|sqrt|pi|cdot|times|div)(?![a-zA-Z]))+")
_RELATION = {r"\leq": r"\le", r"\geq": r"\ge", r"\neq": r"\ne", r"\lt": "<", r"\gt": ">", ">=": r"\ge",
             "<=": r"\le", "!=": r"\ne", "≤": r"\le", "≥": r"\ge", "≠": r"\ne", r"\leqslant": r"\le",
             r"\geqslant": r"\ge", r"\dots": r"\ldots", r"\cdots": r"\ldots", "...": r"\ldots", "…": r"\ldots",
             r"\dfrac": r"\frac", r"\tfrac": r"\frac", r"\cfrac": r"\frac",
             r"\lbrace": r"\{", r"\rbrace": r"\}", r"\infin": r"\infty", "∞": r"\infty", r"\over": "/"}
_RELATION_RE = re.compile("|".join(re.escape(k) + (r"(?![a-zA-Z])" if k[-1].isalpha() else "")
                                   for k in sorted(_RELATION, key=len, reverse=True)))


@dataclass(frozen=True)
class Canon:
    text: str            # canonical answer text
    percent: bool        # a trailing percent sign was removed
    lhs: str | None = None   # "x" when the answer was "x = rhs" with a bare variable (or a name) on the left
    rhs: str | None = None
    named: bool = False  # lhs is a name ('AC', '|PQ|', 'h(2)') rather than a bare variable ('x')
    comma_decimal: str | None = None  # '3,75' read with a decimal comma: '3.75' (policy decimal_comma)


def _unwrap_text_commands(s: str) -> str:
    """\\text{abc} -> abc (balanced braces, iterative so deep nesting cannot blow the stack)."""
    for _ in range(50):
        m = _TEXT_CMD.search(s)
        if not m:
            return s
        depth, i = 1, m.end()
        while i < len(s) and depth:
            depth += {"{": 1, "}": -1}.get(s[i], 0)
            i += 1
        if depth:  # unclosed: leave it for the symbolic path to reject
            return s
        s = s[: m.start()] + s[m.end(): i - 1] + s[i:]
    return s


def _strip_wrappers(s: str) -> str:
    s = s.replace("\\$", "").strip()  # an escaped dollar is a currency sign, not a math delimiter
    for a, b in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if len(s) > len(a) + len(b) and s.startswith(a) and s.endswith(b):
            s = s[len(a): -len(b)].strip()
    s = s.replace("$", "").rstrip(" ;,")
    if s.endswith(".") and not s.endswith(".."):  # sentence full stop, but keep an ellipsis
        s = s[:-1]
    return s.rstrip(" ;,").strip()


@lru_cache(maxsize=100_000)
def canon(answer: str) -> Canon:
    """The canonical form of one extracted MATH answer (a boxed content or a bare answer)."""
    s = answer.strip()
    if len(s) > MAX_ANSWER_CHARS:
        return Canon(s, False)
    s = _strip_wrappers(s)
    if "matrix" not in s and "array" not in s:  # '\\frac' from over-escaped JSON -> '\frac'
        s = _DOUBLE_SLASH_CMD.sub(r"\\", s)
        s = re.sub(r"(?<=\d)\\+$", "", s)  # '185\\': a stray trailing backslash
    s = re.sub(r"(?<=\d),\\!\s*(?=\d{3}(?!\d))", "", s)  # '912,\\!673': thousands, wherever they stand
    s = _NEG_SPACE.sub("", s)  # '\\!' is a negative space: '10,\\!000' is 10,000
    s = _SPACING.sub(" ", s)
    s = _LEFT_RIGHT.sub(lambda m: (m.group(1) or "").replace(".", ""), s)
    s = _RELATION_RE.sub(lambda m: _RELATION[m.group(0)], s)
    s = s.replace("\\$", "").replace("{,}", ",").replace("\\{,\\}", ",")
    comma_decimal = _comma_decimal(s)
    if ";" in s:
        s = _semicolons(s)
    s = _DEGREES.sub("", s)
    pct = False
    stripped = _PERCENT.sub("", s).strip()
    if stripped != s.strip() and stripped:
        pct, s = True, stripped
    # Trailing units: "15\mbox{ cm}^2" -> "15", "10\text{ units}" -> "10"; never empties the answer.
    for _ in range(3):
        t = _TRAIL_UNIT_TEXT.sub("", s).strip()
        if not t or t == s or not re.search(r"[\d}\)]$", t):
            break
        s = t
    s = _unwrap_text_commands(s)
    m = _TRAIL_WORDS.match(s) if "\\int" not in s else None  # '\\int x^2 dx': 'dx' is not a unit
    if m and not set(re.findall(r"[a-zA-Z]+", m.group("words").lower())) & _FUNC_WORDS and "\\" not in m.group("words"):
        s = m.group("core")
    s = _AND_OR.sub(",", s) if re.search(r"\b(?:and|or)\b", s) and not re.fullmatch(r"[a-zA-Z ]+", s) else s
    s = _FRAC_SHORT.sub(_fix_frac, s)
    s = _SQRT_SHORT.sub(r"\\sqrt{\1}", s)
    s = _LEADING_DOT.sub(r"0.\1", s)
    s = _THOUSANDS_IN_BRACES.sub(lambda m: "{" + m.group(1).replace(",", "") + "}", s)  # \\frac{12}{5,525}
    if _THOUSANDS_WHOLE.fullmatch(s.strip()):
        s = s.replace(",", "").replace(" ", "")
    s = _WS.sub(" ", s).strip()
    s = _SPACE_BETWEEN.sub("", s)
    if s.endswith(".") and not s.endswith(".."):
        s = s[:-1]
    s = re.sub(r"^\+(?=\d)", "", s)
    s = re.sub(r"(\d+\.\d*?)0+(?!\d)", lambda m: m.group(1).rstrip("."), s) if "." in s else s
    choice = _CHOICE.fullmatch(s)
    if choice:
        s = choice.group(1)
    if re.fullmatch(r"[a-zA-Z][a-zA-Z ]{2,}", s):  # word answers ("Evelyn", "odd"); not "AB" (a segment)
        s = s.lower()
    s = _approx(s)
    lhs, rhs = _assignment(s)
    named = lhs is not None and lhs != "" and not (_SIMPLE_LHS.fullmatch(lhs) or _TUPLE_LHS.fullmatch(lhs))
    return Canon(s, pct, lhs, rhs, named, comma_decimal)


def _comma_decimal(s: str) -> str | None:
    """'3,75' / '0,111' (one comma, no space, not three digits after it): its decimal reading '3.75'."""
    from augmath.grading.numbers import DECIMAL_COMMA

    t = s.strip()
    return t.replace(",", ".") if DECIMAL_COMMA.fullmatch(t) else None


def _semicolons(s: str) -> str:
    """';' separates answers: '-12;-11;-10' -> '-12,-11,-10'; inside '(2,5; 3)' the commas are decimal commas;
    'p=5,q=2;p=7,q=2' (groups of named values) -> '(5,2),(7,2)'."""
    groups = [g.strip() for g in s.split(";")]
    if not all(groups):
        return s
    out = []
    for g in groups:
        m = re.fullmatch(r"([(\[])?(.*?)([)\]])?", g)
        inner = m.group(2)
        if "=" in inner and "," in inner:  # 'p=5,q=2': one solution written as named values
            vals = [v.split("=", 1)[1].strip() if "=" in v else v.strip() for v in inner.split(",")]
            out.append("(" + ",".join(vals) + ")")
        else:
            out.append(re.sub(r"^(-?\d+),(\d+)$", r"\1.\2", g.strip()) if m.group(1) is None else g)
    joined = ",".join(out)
    if s.startswith(("(", "[")) and s.endswith((")", "]")) and s.count("(") + s.count("[") == 1:
        items = [re.sub(r"^(-?\d+),(\d+)$", r"\1.\2", x.strip()) for x in s[1:-1].split(";")]
        return s[0] + ",".join(items) + s[-1]
    return joined


def _fix_frac(m: re.Match) -> str:
    if m.group(1):
        return "\\frac{%s}{%s}" % (m.group(1), m.group(2))
    if m.group(3):
        return "\\frac{%s}" % m.group(3)
    return "\\frac%s{%s}" % (m.group(4), m.group(5))


def _approx(s: str) -> str:
    """'x = 1/3 \\approx 0.33' keeps the exact part; 'x \\approx 11' keeps the value."""
    if "\\approx" not in s:
        return s
    parts = s.split("\\approx")
    return parts[0] if "=" in parts[0] else parts[-1]


def top_split(s: str, sep: str) -> list[str]:
    """Split at `sep` outside any brackets ((), [], {}, \\{ \\})."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(s):
        c = s[i]
        if c == "\\" and s.startswith(("\\{", "\\}"), i):
            depth += 1 if s[i + 1] == "{" else -1
            i += 2
            continue
        if c in "{([":
            depth += 1
        elif c in "})]":
            depth -= 1
        elif depth == 0 and s.startswith(sep, i):
            parts.append(s[start:i])
            start = i + len(sep)
            i += len(sep)
            continue
        i += 1
    parts.append(s[start:])
    return parts


def _assignment(s: str) -> tuple[str | None, str | None]:
    """'x=5' -> ('x', '5'); chains 'x=2+3=5' keep the last value; 'x\\in[1,2]' -> ('x', '[1,2]');
    'AC=5', '|PQ|=2', 'h(2)=7' (a name on the left) -> (name, value); a chain of numbers '\\frac{5}{15}=\\frac{1}{3}'
    -> ('', '\\frac{1}{3}')."""
    if s.startswith(("x\\in", "y\\in", "t\\in", "n\\in", "k\\in")):
        return s[0], s[4:]
    parts = top_split(s, "=")
    if len(parts) < 2 or any(p == "" for p in parts) or "<" in s or ">" in s or "\\le" in s or "\\ge" in s:
        return None, None
    lhs = parts[0]
    if _SIMPLE_LHS.fullmatch(lhs) or _TUPLE_LHS.fullmatch(lhs) or _is_name(lhs):
        if len(parts) == 2 or "," not in s:
            return lhs, parts[-1]
    if "," not in s and all(_NUMERIC_SIDE.fullmatch(p) for p in parts):
        return "", parts[-1]
    return None, None


def _is_name(lhs: str) -> bool:
    return bool(NAME.fullmatch(lhs)) and lhs.strip("\\").lower() not in _NOT_NAMES and not re.search(r"\d", re.sub(
        r"_\{?[\w,]+\}?|\([^()]*\)", "", lhs))


def balanced(s: str) -> bool:
    depth = 0
    for c in s:
        depth += 1 if c in "{([" else -1 if c in "})]" else 0
        if depth < 0:
            return False
    return depth == 0


def split_list(s: str) -> list[str] | None:
    """Top-level comma items of '1,2,3', '(1,2)', '\\{1,2\\}' ... or None when not a list."""
    inner = s
    for a, b in (("\\{", "\\}"), ("(", ")"), ("[", "]"), ("[", ")"), ("(", "]")):
        if inner.startswith(a) and inner.endswith(b) and balanced(inner[len(a): -len(b)]):
            inner = inner[len(a): -len(b)]
            break
    parts = top_split(inner, ",")
    return parts if len(parts) > 1 and all(parts) else None
