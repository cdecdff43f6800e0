"""The grader's slow path: symbolic equivalence with math-verify 0.5.2, fenced against its known failures.

Runs only inside grader worker processes (augmath.grading.pool), in their main thread, under a hard
wall-clock kill from the parent, so nothing here needs (or uses) signal-based timeouts.

Known math-verify failure classes and what this module does about each:
- Bare LaTeX outside $...$ parses to nothing (`parse("\\dfrac{1}{2}") == []`): we never use math-verify's
  text extraction; the grader has already extracted the answer, so we call latex2sympy on it directly.
- Equations parsed to 0 compare equal to everything (`parse("3x-y+13=0") == [0]` via the number regex, and
  `verify` reduces any predicted equation to its right-hand side): same fix (no number regex), plus an
  equation is reduced to its right side only when its left side is a bare variable ("x = 5").
- 0.0833 vs 1/12: numbers never reach this module (augmath.grading.fast compares them exactly).
- signal-based timeouts break in threads: not used; the parent process enforces the deadline.
"""

from __future__ import annotations

import re

from augmath.grading.normalize import canon

_cache: dict[str, object] = {}


def _load():
    """Import lazily: the parent process never pays for sympy unless a pair needs it."""
    if not _cache:
        from latex2sympy2_extended.latex2sympy2 import NormalizationConfig, latex2sympy, normalize_latex
        from math_verify import grader

        _cache.update(latex2sympy=latex2sympy, normalize=normalize_latex, grader=grader,
                      config=NormalizationConfig(basic_latex=True, units=True, malformed_operators=True,
                                                 nits=True, boxed="none", equations=True))
    return _cache


_WARM_UP = [("\\frac{1}{2}", "0.5"), ("x^2-1", "(x-1)(x+1)"), ("(-\\infty,1)\\cup(2,\\infty)", "(-\\infty,1]"),
            ("\\sin x", "\\cos x"), ("\\begin{pmatrix}1\\\\2\\end{pmatrix}", "(1,2)"), ("y=2x+1", "2x-y+1=0"),
            ("\\{1,2\\}", "\\{2,1\\}"), ("x \\le 3", "3 \\ge x"), ("3+4i", "4+3i")]


def warm_up() -> None:
    """Exercise each kind of comparison once at worker start-up: sympy imports much of itself lazily on
    first use (simplify, sets, trigonometry, matrices), which would otherwise land on the first real items."""
    for gold, pred in _WARM_UP:
        equivalent(gold, pred)


def to_sympy(answer: str):
    c = _load()
    text = c["normalize"](answer, c["config"])
    if not text:
        return None
    return c["latex2sympy"](text, is_real=not c["grader"].should_treat_as_complex(text), convert_degrees=False,
                            normalization_config=None)


def _relation_guard(g, p) -> bool | None:
    """math-verify compares 'x + y = 5' against '5' by taking the right-hand side; only allow 'x = 5'."""
    grader = _load()["grader"]
    g_eq, p_eq = grader.is_equation(g), grader.is_equation(p)
    if g_eq and not p_eq and not grader.is_relation(p) and not grader.is_assignment_relation(g):
        return False
    if p_eq and not g_eq and not grader.is_relation(g) and not grader.is_assignment_relation(p):
        return False
    return None


def _proportional_equations(g, p) -> bool:
    """'2x+4y-3=0' and 'y = -x/2 + 3/4' describe the same curve: (lhs - rhs) differ by a constant factor."""
    import sympy

    if not (isinstance(g, sympy.Eq) and isinstance(p, sympy.Eq)):
        return False
    a, b = g.lhs - g.rhs, p.lhs - p.rhs
    if not a.free_symbols or a.free_symbols != b.free_symbols or b == 0:
        return False
    ratio = sympy.simplify(a / b)
    return bool(ratio.is_number and ratio != 0 and ratio.is_finite)


def _numeric_verdict(g, p) -> bool | None:
    """Two plain numbers: decide at 50 digits instead of math-verify's evalf(chop=True), which calls
    1/2^99 and 1/2^98 equal (both chop to 0); a decimal on either side matches to 6 places ('1.41421356'
    is sqrt(2)), like the fast path's rule for rationals."""
    import sympy

    if not all(isinstance(x, sympy.Expr) and x.is_number for x in (g, p)):
        return None
    a, b = sympy.N(g, 50), sympy.N(p, 50)
    if not (a.is_real and b.is_real and a.is_finite and b.is_finite):
        return None
    if g.atoms(sympy.Float) or p.atoms(sympy.Float):
        same6 = sympy.Float(a, 50).round(6) == sympy.Float(b, 50).round(6)
        return bool(same6 and abs(a - b) <= max(abs(a), abs(b)) / 1000)
    if abs(a - b) > sympy.Float(10) ** -40 * max(abs(a), abs(b)):
        return False
    return None


def _expr_equal(g, p) -> bool:
    grader = _load()["grader"]
    guard = _relation_guard(g, p)
    if guard is not None:
        return guard
    try:
        verdict = _numeric_verdict(g, p)
    except Exception:
        verdict = None
    if verdict is not None:
        return verdict
    try:
        return bool(grader.sympy_expr_eq(g, p, 6, True)) or _proportional_equations(g, p)
    except Exception:  # sympy raises all sorts of things on odd inputs; that is "not shown equal"
        return False


def _variants(answer: str) -> list:
    """Sympy readings of one answer: '25%' reads as 25 and as 1/4."""
    cn = canon(answer)
    text = cn.text
    out = []
    try:
        expr = to_sympy(text)
    except Exception:
        expr = None
    if expr is None:
        return out
    out.append(expr)
    if cn.percent:
        try:
            import sympy

            out.append(sympy.Mul(expr, sympy.Rational(1, 100)))
        except Exception:
            pass
    return out


def equivalent(gold: str, pred: str) -> bool:
    """Symbolic equivalence of two extracted answers (gold first: math-verify is gold-anchored)."""
    if re.search(r"\\(?:begin|end)\{(?!(?:p|b|v|V)?matrix|array|cases)", pred):
        return False
    gvs, pvs = _variants(gold), _variants(pred)
    return any(_expr_equal(g, p) for g in gvs for p in pvs)
