"""Exact numbers for the grader: parse a number written any common way, compare two of them exactly.

Why exact rationals: a float grader says 0.1 + 0.2 != 0.3 and, worse, a loose tolerance says 0.0833 == 1/12.
Here every literal becomes a Fraction. Two numbers are equal when they are the same rational; a decimal
literal also matches another number that agrees with it to 6 decimal places (math-verify's convention, so
"0.333333" matches 1/3 and "0.0833333333" matches 1/12) but "0.0833" does not match 1/12, and two tiny decimals
that merely round to the same 6-place value (1e-7 vs 2e-7) do not either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

MAX_DIGITS = 300  # longer digit strings are never converted (Python refuses >4300 anyway; this keeps it cheap)

MINUS_SIGNS = "\u2212\u2013\u2014\ufe63\uff0d"  # minus sign, en/em dash, small/full-width hyphen-minus
THIN_SPACES = "\u2009\u202f\u00a0\u2007\u200a"  # thin, narrow no-break, no-break, figure, hair space


@dataclass(frozen=True)
class Num:
    """A parsed number: its exact value and whether it was written as a decimal (hence maybe rounded)."""

    value: Fraction
    decimal: bool = False

    def __str__(self) -> str:
        return format_fraction(self.value)


def format_fraction(v: Fraction) -> str:
    """Canonical text: integers as integers, terminating decimals as decimals, the rest as p/q."""
    if v.denominator == 1:
        return str(v.numerator)
    d, twos, fives = v.denominator, 0, 0
    while d % 2 == 0:
        d, twos = d // 2, twos + 1
    while d % 5 == 0:
        d, fives = d // 5, fives + 1
    if d != 1:
        return f"{v.numerator}/{v.denominator}"
    places = max(twos, fives)
    scaled = abs(v.numerator) * (10**places // v.denominator)
    digits = str(scaled).rjust(places + 1, "0")
    text = f"{digits[:-places]}.{digits[-places:]}".rstrip("0").rstrip(".")
    return ("-" if v < 0 else "") + text


def clean_number_text(s: str) -> str:
    """Unicode minus signs to '-', thin spaces to nothing (they only ever separate thousands)."""
    for ch in MINUS_SIGNS:
        s = s.replace(ch, "-")
    for ch in THIN_SPACES:
        s = s.replace(ch, "")
    return s


_DECIMAL = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)")
_THOUSANDS = re.compile(r"[-+]?(?!0,)\d{1,3}(?:,\d{3})+(?:\.\d+)?")
DECIMAL_COMMA = re.compile(r"[-+]?(?:\d+,\d{1,2}|0,\d+)")  # '3,75', '1000,99', '0,111'; never '1,234' (thousands)
_FRAC_SLASH = re.compile(r"([-+]?\d+(?:\.\d+)?)/([-+]?\d+(?:\.\d+)?)")
_FRAC_LATEX = re.compile(r"(-?)\\[dtc]?frac\{([-+]?\d+(?:\.\d+)?)\}\{([-+]?\d+(?:\.\d+)?)\}")
_FRAC_LATEX_SHORT = re.compile(r"(-?)\\[dtc]?frac(\d)(\d)")
_MIXED = re.compile(r"(-?)(\d+)\s+(\d+)/(\d+)|(-?)(\d+)\\[dt]?frac\{(\d+)\}\{(\d+)\}")
_SCI = re.compile(r"([-+]?\d+(?:\.\d+)?)(?:e|E|\\times10\^\{?|\*10\^|×10\^)([-+]?\d{1,3})\}?")


def _decimal(text: str) -> Num | None:
    if not _DECIMAL.fullmatch(text) or len(text) > MAX_DIGITS:
        return None
    return Num(Fraction(text if not text.endswith(".") else text[:-1]), "." in text.rstrip("."))


def parse_number(text: str, thousands: bool = True, mixed: bool = False, decimal_comma: bool = False) -> Num | None:
    """A single number: 18, -3.50, .5, 1,234,567, 3/4, \\frac{3}{4}, \\frac34, 2 1/2 (mixed=True), 1.5e3,
    3,75 (decimal_comma=True: one comma followed by one or two digits, or '0,' and digits).

    Returns None for anything else (expressions, lists, words). Never raises.
    """
    s = clean_number_text(text.strip())
    if not s or len(s) > MAX_DIGITS + 40:
        return None
    if s.startswith("+"):
        s = s[1:]
    if decimal_comma and DECIMAL_COMMA.fullmatch(s):
        s = s.replace(",", ".")
    if thousands and _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    num = _decimal(s)
    if num is not None:
        return num
    m = _FRAC_SLASH.fullmatch(s) or _FRAC_LATEX.fullmatch(s) or _FRAC_LATEX_SHORT.fullmatch(s)
    if m:
        groups = m.groups()
        sign = -1 if len(groups) == 3 and groups[0] == "-" else 1
        a, b = _decimal(groups[-2]), _decimal(groups[-1])
        if a is None or b is None or b.value == 0:
            return None
        return Num(sign * a.value / b.value, a.decimal or b.decimal)
    if mixed:
        m = _MIXED.fullmatch(s)
        if m:
            sign, whole, a, b = (m.group(1, 2, 3, 4) if m.group(2) else m.group(5, 6, 7, 8))
            if 0 < int(b) and int(a) < int(b) and len(whole + a + b) <= MAX_DIGITS:
                v = int(whole) + Fraction(int(a), int(b))
                return Num(-v if sign else v)
    m = _SCI.fullmatch(s)
    if m:
        base = _decimal(m.group(1))
        if base is not None:
            return Num(base.value * Fraction(10) ** int(m.group(2)), True)
    return None


def _round6(v: Fraction) -> Fraction:
    scaled = v * 10**6
    q = scaled.numerator // scaled.denominator
    if scaled - q >= Fraction(1, 2):  # round half up, on exact values
        q += 1
    return Fraction(q, 10**6)


def numbers_equal(a: Num, b: Num) -> bool:
    """Exact equality; with a decimal on either side, agreement to 6 places (and within 0.1% relative)."""
    if a.value == b.value:
        return True
    if not (a.decimal or b.decimal):
        return False
    if _round6(a.value) != _round6(b.value):
        return False
    scale = max(abs(a.value), abs(b.value))
    return abs(a.value - b.value) <= scale / 1000


def percent_variants(n: Num, has_percent: bool) -> list[Num]:
    """'25%' may mean 25 (the MATH/GSM8K convention: the question asked for a percent) or 0.25."""
    if not has_percent:
        return [n]
    return [n, Num(n.value / 100, n.decimal)]


# --- numbers written as words ("The answer is eighteen.") -------------------------------------------------
_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * (i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}
WORD_NUMBER = re.compile(
    r"\b(?:minus\s+|negative\s+)?(?:(?:%s)(?:[\s-]+(?:and\s+)?)?)+\b" % "|".join(
        sorted(list(_UNITS) + list(_TENS) + list(_SCALES), key=len, reverse=True)), re.IGNORECASE)


def words_to_number(text: str) -> int | None:
    """'one hundred twenty-five' -> 125; None if the words do not form one number."""
    words = re.split(r"[\s-]+", text.strip().lower())
    sign = 1
    if words and words[0] in ("minus", "negative"):
        sign, words = -1, words[1:]
    total, current, seen = 0, 0, False
    for w in words:
        if w == "and" or not w:
            continue
        if w in _UNITS:
            current += _UNITS[w]
        elif w in _TENS:
            current += _TENS[w]
        elif w == "hundred":
            current = max(current, 1) * 100
        elif w in _SCALES:
            total += max(current, 1) * _SCALES[w]
            current = 0
        else:
            return None
        seen = True
    return sign * (total + current) if seen else None
