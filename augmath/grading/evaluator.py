"""A tiny float evaluator for canonical LaTeX answers, used only to prove two answers DIFFERENT.

Grammar: numbers, \\frac{}{}, \\sqrt{} / \\sqrt[n]{}, \\pi, \\infty, + - * / ^ \\cdot \\times \\div, ( ) { } [ ],
\\sin \\cos \\tan \\ln \\exp of an argument holding a variable or \\pi (of a bare number they are refused: degrees?),
implicit products (2\\sqrt{3}, 4t, (x+1)(x-1)) and single-letter variables (plus Greek letters). Variables
are evaluated at fixed pseudo-random points, so 'x^2-7x+12' and 'x^3-7x+12' differ at some point while
'(x-3)(x-4)' and 'x^2-7x+12' agree at all of them (and are then left to sympy to confirm).

Everything ambiguous is refused rather than guessed: mixed numbers (2\\frac{1}{2}), 'a/b c', bare exponents
with more than one digit, e and i (Euler's number / the imaginary unit, or variables?), functions, subscripts.
"""

from __future__ import annotations

import cmath
import math
import re

MAX_EVAL_CHARS = 300
GREEK = r"\\(?:alpha|beta|gamma|delta|theta|lambda|mu|nu|rho|sigma|tau|phi|omega|psi|chi|kappa|zeta|eta|xi)(?![a-zA-Z])"
_FUNCS = {"\\sin": cmath.sin, "\\cos": cmath.cos, "\\tan": cmath.tan, "\\ln": cmath.log, "\\exp": cmath.exp}
_TOKEN = re.compile(r"\d+(?:\.\d+)?|\.\d+|\\frac|\\sqrt|\\pi|\\infty|\\cdot|\\times|\\div|"
                    r"\\(?:sin|cos|tan|ln|exp)(?![a-zA-Z])|" + GREEK
                    + r"|[a-df-zA-Z]|[-+*/^(){}\[\]]")
# Values for variables: irrational-ish, positive, distinct, larger than the small constants that appear
# under square roots (sqrt(x-3)), so that identities are not hit by chance and roots stay real.
_POINTS = [5.8309518948, 4.3588989435, 6.7823299831, 3.6055512755]


class Refuse(Exception):
    """Outside the grammar, or ambiguous."""


class _Eval:
    def __init__(self, s: str, point: int):
        pos, self.toks = 0, []
        while pos < len(s):
            if s[pos] == " ":  # '\\sin A': a space ends a command name
                pos += 1
                continue
            m = _TOKEN.match(s, pos)
            if not m:
                raise Refuse(s[pos:])
            self.toks.append(m.group(0))
            pos = m.end()
        self.i, self.depth, self.point = 0, 0, point

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, tok: str | None = None) -> str:
        t = self.peek()
        if t is None or (tok is not None and t != tok):
            raise Refuse(f"expected {tok}")
        self.i += 1
        return t

    def run(self) -> float:
        v = self.expr()
        if self.peek() is not None:
            raise Refuse("trailing tokens")
        return v

    def expr(self) -> float:
        self.depth += 1
        if self.depth > 40:
            raise Refuse("too deep")
        v = self.term()
        while self.peek() in ("+", "-"):
            v = v + self.term() if self.take() == "+" else v - self.term()
        self.depth -= 1
        return v

    def term(self) -> float:
        v, divided, implicit = self.unary(), False, False
        while True:
            t = self.peek()
            if t in ("*", "\\cdot", "\\times", "/", "\\div"):
                self.take()
                rhs = self.unary()
                if t in ("/", "\\div"):
                    divided = True
                    if rhs == 0:
                        raise Refuse("division by zero")
                    v = v / rhs
                else:
                    v = v * rhs
            elif t is not None and (t in ("\\frac", "\\sqrt", "\\pi", "(", "{") or t[0].isalpha() or t.startswith("\\") and t != "\\infty"):
                if t == "\\frac" and self.toks[self.i - 1][:1].isdigit():
                    raise Refuse("mixed number")  # 2\frac{1}{2}: 5/2 or 1? leave it to sympy
                implicit = True
                v = v * self.power()
            else:
                break
            if divided and implicit:
                raise Refuse("a/b c is ambiguous")
        return v

    def unary(self) -> float:
        if self.peek() == "-":
            self.take()
            return -self.unary()
        if self.peek() == "+":
            self.take()
            return self.unary()
        return self.power()

    def power(self) -> float:
        base = self.atom()
        if self.peek() != "^":
            return base
        self.take()
        if self.peek() == "{":
            self.take()
            e = self.expr()
            self.take("}")
        else:
            t = self.take()
            if not (t.isdigit() and len(t) == 1):
                raise Refuse("bare exponent")
            e = float(t)
        if isinstance(e, complex) or abs(e) > 200 or base == 0 and e <= 0 or cmath.isinf(base):
            raise Refuse("exponent")
        if e != int(e) and (isinstance(base, complex) or base < 0):
            raise Refuse("exponent")
        return base ** (int(e) if e == int(e) else e)

    def atom(self) -> float:
        t = self.take()
        if t[0].isdigit() or t[0] == ".":
            return float(t)
        if t in _FUNCS:  # only of an argument with a variable or pi: '\\sin 30' (degrees?) is refused
            start = self.i
            if self.peek() in ("(", "{"):
                arg = self.atom()
            elif self.peek() is not None and self.peek() != "^":
                arg = self.power()
            else:
                raise Refuse("function")
            arg_tokens = self.toks[start: self.i]
            if not any(tok == "\\pi" or tok[0].isalpha() or re.fullmatch(GREEK, tok) for tok in arg_tokens):
                raise Refuse("function of a number")
            v = _FUNCS[t](arg)
            return v.real if v.imag == 0 else v
        if t == "\\pi":
            return math.pi
        if t == "\\infty":
            return math.inf
        if t == "i":  # the imaginary unit: if the reference reads i as a variable instead, a difference at
            return 1j  # i = 1j still proves a difference, since equal polynomials in i agree at i = 1j
        if t[0].isalpha() or t.startswith("\\") and t not in ("\\frac", "\\sqrt", "\\cdot", "\\times", "\\div"):
            return _POINTS[(self.point + sum(map(ord, t))) % len(_POINTS)] * (1 + (sum(map(ord, t)) % 7) / 10)
        if t in ("(", "{", "["):
            v = self.expr()
            self.take({"(": ")", "{": "}", "[": "]"}[t])
            return v
        if t == "\\frac":
            self.take("{")
            a = self.expr()
            self.take("}")
            self.take("{")
            b = self.expr()
            self.take("}")
            if b == 0:
                raise Refuse("division by zero")
            return a / b
        if t == "\\sqrt":
            n = 2.0
            if self.peek() == "[":
                self.take()
                n = self.expr()
                self.take("]")
            self.take("{")
            v = self.expr()
            self.take("}")
            if isinstance(v, complex) or isinstance(n, complex) or v < 0 or n <= 0:
                raise Refuse("complex root")
            return v ** (1.0 / n)
        raise Refuse(t)


def evaluate(s: str, point: int = 0) -> complex | float | None:
    """Value of `s` with its variables set to the point-th assignment; None when refused."""
    if not s or len(s) > MAX_EVAL_CHARS:
        return None
    try:
        v = _Eval(s, point).run()
    except (Refuse, OverflowError, ZeroDivisionError, ValueError, RecursionError, TypeError):
        return None
    if isinstance(v, int):
        v = float(v)
    if isinstance(v, complex):
        if cmath.isnan(v) or cmath.isinf(v):
            return None
        return v.real if v.imag == 0 else v
    return v if isinstance(v, float) and not math.isnan(v) else None


def far(a, b) -> bool:
    """Values too far apart for any rounding to make them equal (infinities compare by sign)."""
    if cmath.isinf(a) or cmath.isinf(b):
        return a != b
    return abs(a - b) > 1e-5 * max(1.0, abs(a), abs(b))
