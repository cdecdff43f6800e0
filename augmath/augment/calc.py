"""Safe, exact evaluation of GSM8K calculator annotations (`<<48/2=24>>`), without eval().

Why a parser of our own: annotations written by models contain `$`, `,`, `%`, `x` for times and leading
zeros that Python's grammar rejects or, worse, evaluates differently (`2^3` is xor). A small recursive-
descent parser over + - * / // % ** ^ and parentheses, computing with `fractions.Fraction`, gives exact
results (0.1+0.2 == 0.3) and the position of every operand, which the `numbers` strategy needs to rewrite
an annotation with new operand values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable

ANNOTATION_RE = re.compile(r"<<([^<>]*)>>")
# 1,234.5 | 12 | .5 ; a thousands comma only before exactly three digits, so "3,4" stays two numbers.
_NUMBER_RE = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+")
_MAX_EXPONENT = 64
_MAX_DIGITS = 200  # refuse results whose numerator/denominator grow past this (e.g. 9**9**9)


class CalcError(ValueError):
    """The expression is not a valid calculator expression, or cannot be evaluated (e.g. division by 0)."""


@dataclass(frozen=True)
class Operand:
    start: int  # span of the number's text inside the expression
    end: int
    text: str
    value: Fraction


@dataclass(frozen=True)
class Annotation:
    """One `<<expr=result>>` found in a solution; spans are offsets into that solution text."""
    start: int
    end: int
    expr: str
    result_text: str

    @property
    def body(self) -> str:
        return f"{self.expr}={self.result_text}"


def to_fraction(text: str) -> Fraction:
    """'1,234.50' -> Fraction(2469, 2), exactly (no float rounding)."""
    try:
        return Fraction(text.replace(",", "").strip())
    except (ValueError, ZeroDivisionError):
        raise CalcError(f"not a number: {text!r}") from None


# A parsed expression is a small tree, so the same expression can be evaluated with other operand values
# (the `numbers` strategy) or with symbols (the `reverse` strategy's worked solution):
#   ("num", Operand) | ("neg", node) | ("pct", node) | ("bin", op, left, right), op in + - * / // % **
Node = tuple


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.operands: list[Operand] = []

    def _skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t$€£":
            self.pos += 1

    def _peek(self, *ops: str) -> str | None:
        self._skip()
        for op in ops:  # callers list longer operators first ('**' before '*')
            if self.text.startswith(op, self.pos):
                return op
        return None

    def parse(self) -> Node:
        tree = self._expr()
        self._skip()
        if self.pos != len(self.text):
            raise CalcError(f"unexpected {self.text[self.pos:]!r} in {self.text!r}")
        return tree

    def _expr(self) -> Node:
        tree = self._term()
        while (op := self._peek("+", "-")) is not None:
            self.pos += 1
            tree = ("bin", op, tree, self._term())
        return tree

    def _term(self) -> Node:
        tree = self._factor()
        while (op := self._peek("**", "//", "*", "/", "x", "X", "×", "÷", "%")) is not None:
            if op == "**":
                break  # a power binds tighter; _power consumed it unless the base was unary
            self.pos += len(op)
            canonical = {"x": "*", "X": "*", "×": "*", "÷": "/"}.get(op, op)
            tree = ("bin", canonical, tree, self._factor())
        return tree

    def _factor(self) -> Node:
        op = self._peek("+", "-")
        if op is not None:
            self.pos += 1
            inner = self._factor()
            return ("neg", inner) if op == "-" else inner
        return self._power()

    def _power(self) -> Node:
        base = self._atom()
        op = self._peek("**", "^")
        if op is None:
            return base
        self.pos += len(op)
        return ("bin", "**", base, self._factor())  # right-associative: 2**3**2 == 2**9

    def _atom(self) -> Node:
        self._skip()
        if self.pos < len(self.text) and self.text[self.pos] == "(":
            self.pos += 1
            tree = self._expr()
            if self._peek(")") is None:
                raise CalcError(f"missing ')' in {self.text!r}")
            self.pos += 1
            return tree
        match = _NUMBER_RE.match(self.text, self.pos)
        if not match:
            rest = self.text[self.pos:] or "end of expression"
            raise CalcError(f"expected a number at {rest!r} in {self.text!r}")
        operand = Operand(match.start(), match.end(), match.group(), to_fraction(match.group()))
        self.operands.append(operand)
        self.pos = match.end()
        tree: Node = ("num", operand)
        # "20%" is 20/100; a '%' followed by an operand is the modulo operator instead.
        if self.text.startswith("%", self.pos) and not _NUMBER_RE.match(self.text[self.pos + 1:].lstrip(" (")):
            self.pos += 1
            tree = ("pct", tree)
        return tree


def parse(expr: str) -> tuple[Node, list[Operand]]:
    """The expression tree and its operands in order, with spans (raises CalcError if it does not parse)."""
    parser = _Parser(expr)
    return parser.parse(), parser.operands


def evaluate_tree(tree: Node, leaf: Callable[[int, Operand], Any] | None = None, _counter=None) -> Any:
    """Evaluate a tree; `leaf(i, operand)` gives the value of the i-th operand (default: its own value).
    With Fractions the result is exact; any type with + - * / ** works (sympy expressions for `reverse`)."""
    counter = _counter if _counter is not None else [0]
    kind = tree[0]
    if kind == "num":
        i = counter[0]
        counter[0] += 1
        return tree[1].value if leaf is None else leaf(i, tree[1])
    if kind == "neg":
        return -evaluate_tree(tree[1], leaf, counter)
    if kind == "pct":
        return evaluate_tree(tree[1], leaf, counter) / 100
    _, op, left, right = tree
    a = evaluate_tree(left, leaf, counter)
    b = evaluate_tree(right, leaf, counter)
    if op in ("/", "//", "%") and b == 0:
        raise CalcError("division by zero")
    if op == "+":
        value = a + b
    elif op == "-":
        value = a - b
    elif op == "*":
        value = a * b
    elif op == "/":
        value = a / b
    elif op in ("//", "%"):
        if not (isinstance(a, Fraction) and isinstance(b, Fraction)):
            raise CalcError(f"{op} needs numbers")
        value = Fraction(a // b) if op == "//" else a % b
    else:  # "**"
        if getattr(b, "is_Integer", False):  # a sympy integer (symbolic evaluation)
            b = Fraction(int(b))
        if not isinstance(b, Fraction) or b.denominator != 1 or abs(b) > _MAX_EXPONENT:
            raise CalcError(f"unsupported exponent {b}")
        if a == 0 and b < 0:
            raise CalcError("division by zero")
        value = a ** int(b)
    if isinstance(value, Fraction):
        _check_size(value)
    return value


def _check_size(value: Fraction) -> None:
    if len(str(value.numerator)) > _MAX_DIGITS or len(str(value.denominator)) > _MAX_DIGITS:
        raise CalcError("result too large")


def evaluate(expr: str) -> Fraction:
    """Exact value of a calculator expression; raises CalcError for anything else."""
    tree, _ = parse(expr)
    try:
        return evaluate_tree(tree)
    except CalcError as e:
        raise CalcError(f"{e} in {expr!r}") from None


def operands(expr: str) -> list[Operand]:
    """The numbers of an expression, in order, with their spans (raises CalcError if it does not parse)."""
    return parse(expr)[1]


def find_annotations(text: str) -> list[Annotation]:
    """Every `<<lhs=rhs>>` in a solution. Annotations without exactly one usable '=' are returned with
    result_text '' so that checks can count them as failures instead of silently skipping them."""
    found = []
    for m in ANNOTATION_RE.finditer(text):
        body = m.group(1)
        expr, sep, result = body.rpartition("=")
        if not sep:
            expr, result = body, ""
        found.append(Annotation(m.start(), m.end(), expr.strip(), result.strip()))
    return found


def result_tolerance(result_text: str) -> Fraction:
    """How far a stated result may be from the exact value: a result written with d decimals may be rounded
    to d decimals (10/3=3.33); an integer result must match to 1e-3 (RFT's rule)."""
    digits = result_text.split(".", 1)[1] if "." in result_text else ""
    digits = re.sub(r"\D.*", "", digits)
    if digits:
        return Fraction(1, 2 * 10 ** len(digits))
    return Fraction(1, 1000)


def check(body: str) -> bool:
    """True when an annotation body `lhs=rhs` evaluates and its stated result agrees with the exact value."""
    expr, sep, result = body.rpartition("=")
    if not sep or not expr.strip() or not result.strip():
        return False
    try:
        value = evaluate(expr)
        stated = evaluate(result)
    except CalcError:
        return False
    return abs(value - stated) <= result_tolerance(result.strip())


def all_annotations_valid(text: str) -> bool:
    """RFT's filter: every `<<a=b>>` in a response evaluates to its stated value (no annotations is valid)."""
    return all(check(a.body) for a in find_annotations(text))


def equation_key(text: str) -> str:
    """The list of equations of a response, spaces removed: RFT's key for duplicate reasoning paths."""
    return "|".join(a.body.replace(" ", "") for a in find_annotations(text))


def format_number(value: Fraction, max_decimals: int = 6) -> str | None:
    """Plain decimal text for an exact value ('24', '0.25', '-3.5'), or None when it has no finite decimal
    expansion within max_decimals (1/3)."""
    if value.denominator == 1:
        return str(value.numerator)
    scaled = value * 10 ** max_decimals
    if scaled.denominator != 1:
        return None
    sign = "-" if scaled < 0 else ""
    digits = str(abs(scaled.numerator)).rjust(max_decimals + 1, "0")
    whole, frac = digits[:-max_decimals], digits[-max_decimals:].rstrip("0")
    return f"{sign}{whole}.{frac}"


def decimals(value: Fraction) -> int | None:
    """Number of decimals of a value's exact decimal expansion, or None if it has none (1/3)."""
    text = format_number(value, max_decimals=12)
    if text is None:
        return None
    return len(text.split(".", 1)[1]) if "." in text else 0
