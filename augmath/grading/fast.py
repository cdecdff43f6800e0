"""The grader's cheap path for MATH-style answers: decide most pairs without sympy.

`fast_equal(gold, pred)` returns True / False when it is sure, and None when only sympy can tell.
  True   the canonical strings are identical; or both are plain numbers (or matrices of plain numbers)
         with equal exact values. Never from floating-point evidence.
  False  both are plain numbers that differ; or both evaluate (augmath.grading.evaluator: a tiny float grammar
         with variables at fixed points) to values that differ far beyond any rounding; or two different
         words / a word and a number; or two equations that are not multiples of each other.
"""

from __future__ import annotations

import re

from augmath.grading.evaluator import GREEK, evaluate, far
from augmath.grading.normalize import Canon, canon, split_list
from augmath.grading.numbers import numbers_equal, parse_number, percent_variants

_BASE = re.compile(r"(-?[0-9A-Za-z.]+)_\{?(\d+)\}?")
_WORD = re.compile(r"[a-z][a-z ]{2,}")
_MATRIX = re.compile(r"\\begin\{([pb]?matrix)\}((?:(?!\\begin|\\end).)*)\\end\{[pb]?matrix\}", re.DOTALL)
_INTERVAL = re.compile(r"([(\[])([^,()\[\]]+),([^,()\[\]]+)([)\]])")
_LETTERS = re.compile(r"[a-zA-Z]")
_RELATION = re.compile(r"[<>]|\\[lg]e|\\ne")
_N_POINTS = 3


def _n_points(*texts: str) -> int:
    """Several evaluation points when a variable appears (on either side), one otherwise."""
    return _N_POINTS if any(_LETTERS.search(re.sub(r"\\[a-zA-Z]+", "", t)) or re.search(GREEK, t) for t in texts) else 1


def _values(s: str, n_points: int) -> list[list[float]] | None:
    """Values at each evaluation point of a scalar, a comma list, or 'a \\pm b'; None when refused."""
    items = split_list(s) or [s]
    expanded = []
    for item in items:
        if item.count("\\pm") == 1:
            a, b = item.split("\\pm")
            expanded += [f"{a or '0'}+({b})", f"{a or '0'}-({b})"]
        elif "\\pm" in item or "\\mp" in item:
            return None
        else:
            expanded.append(item)
    out = []
    for k in range(n_points):
        vals = [evaluate(x, k) for x in expanded]
        if any(v is None for v in vals):
            return None
        out.append(vals)
    return out


def _sets_differ(xs: list[float], ys: list[float]) -> bool:
    """Some value on one side is far from every value on the other: no set/tuple reading can be equal."""
    return any(all(far(x, y) for y in ys) for x in xs) or any(all(far(x, y) for x in xs) for y in ys)


def _values_differ(gs: str, ps: str, g_pct: bool, p_pct: bool) -> bool:
    n = _n_points(gs, ps)
    gv, pv = _values(gs, n), _values(ps, n)
    if gv is None or pv is None or len(gv) != len(pv):
        return False
    g_alts = [1.0] + ([0.01] if g_pct else [])
    p_alts = [1.0] + ([0.01] if p_pct else [])
    return all(any(_sets_differ([x * a for x in gk], [y * b for y in pk]) for gk, pk in zip(gv, pv))
               for a in g_alts for b in p_alts)


def _equations_differ(gs: str, ps: str) -> bool:
    """'A=B' vs 'C=D': unless (A-B)/(C-D) is the same constant at every point, no reading makes them equal."""
    g, p = gs.split("="), ps.split("=")
    if len(g) != 2 or len(p) != 2 or re.search(r"[<>]|\\[lg]e", gs + ps):
        return False
    ratios = []
    for k in range(_N_POINTS):
        a, b, c, d = (evaluate(x, k) for x in (g[0], g[1], p[0], p[1]))
        if None in (a, b, c, d) or c - d == 0 or a - b == 0:
            return False
        ratios.append((a - b) / (c - d))
    return any(far(r, ratios[0]) for r in ratios[1:])


def _matrix(s: str) -> list[list[str]] | None:
    m = _MATRIX.fullmatch(s)
    if not m:
        return None
    return [[c.strip() for c in row.split("&")] for row in m.group(2).split("\\\\") if row.strip()]


def _compare_matrices(gm: list[list[str]], pm: list[list[str]]) -> bool | None:
    if [len(r) for r in gm] != [len(r) for r in pm]:
        return False
    undecided = False
    for gc, pc in zip(sum(gm, []), sum(pm, [])):
        r = compare_canon(canon(gc), canon(pc))
        if r is False:
            return False
        undecided |= r is None
    return None if undecided else True


def _sides(g: Canon, p: Canon) -> tuple[str, str] | None:
    """Align assignments: 'x=5' vs '5' compares '5' with '5'; 'x=5' vs 'y=5' is for sympy to judge."""
    if g.lhs is not None and p.lhs is not None:
        return (g.rhs, p.rhs) if g.lhs == p.lhs else None
    if (g.lhs is not None and "=" in p.text) or (p.lhs is not None and "=" in g.text):
        return g.text, p.text  # 'y = x/2 + 1' vs 'x - 2y + 2 = 0': equation against equation
    return (g.rhs if g.lhs is not None else g.text), (p.rhs if p.lhs is not None else p.text)


def compare_canon(g: Canon, p: Canon) -> bool | None:
    if g.text == p.text:
        return True
    sides = _sides(g, p)
    if sides is None:
        return False if _equations_differ(g.text, p.text) else None
    gs, ps = sides
    if gs == ps:
        return True
    gb, pb = _BASE.fullmatch(gs), _BASE.fullmatch(ps)
    if gb or pb:  # 204_5 is a numeral in base 5: compare the digits (and the bases when both give one)
        if gb and pb:
            return gb.group(1) == pb.group(1) and gb.group(2) == pb.group(2)
        return (gb or pb).group(1) == (ps if gb else gs)
    if ("\\ldots" in gs) != ("\\ldots" in ps):
        return False  # '1, 2, 3' is not '1, 2, 3, ...' (math-verify's normalizer drops the dots)
    if ":" in gs or ":" in ps:  # times and ratios (12:00, 1:2): sympy reads them as nonsense; compare text
        return False
    gn, pn = parse_number(gs, thousands=False, mixed=True), parse_number(ps, thousands=False, mixed=True)
    if gn is not None and pn is not None:
        return any(numbers_equal(a, b) for a in percent_variants(gn, g.percent) for b in percent_variants(pn, p.percent))
    g_word, p_word = _WORD.fullmatch(gs), _WORD.fullmatch(ps)
    if g_word and p_word and sorted(gs.replace(" ", "")) != sorted(ps.replace(" ", "")):
        return False  # 'saturday' vs 'sunday' (anagrams could be products of variables: abc vs cab)
    if (g_word and pn is not None) or (p_word and gn is not None):
        return False  # 'saturday' vs '7'
    if (g_word or p_word) and re.search(r"[\d\\]", ps if g_word else gs):
        return False  # 'evelyn' vs '(-\infty,0)'
    if ("=" in gs) != ("=" in ps) and "," not in gs + ps and not _RELATION.search(gs + ps):
        return False  # an equation that is not 'x = value' vs a plain answer
    if (_interval_like(gs) and _scalar(ps)) or (_interval_like(ps) and _scalar(gs)):
        return False  # a set of numbers vs one number
    gm, pm = _matrix(gs), _matrix(ps)
    if gm is not None and pm is not None:
        return _compare_matrices(gm, pm)
    if "=" in gs and "=" in ps:
        return False if _equations_differ(gs, ps) else None
    if _values_differ(gs, ps, g.percent, p.percent) or _unions_differ(gs, ps):
        return False
    return None


def _interval_like(s: str) -> bool:
    return "\\cup" in s or "\\emptyset" in s or ("\\infty" in s and s[:1] in "([" and s[-1:] in ")]")


def _scalar(s: str) -> bool:
    if parse_number(s, thousands=False, mixed=True) is not None:
        return True
    vals = _values(s, 1) if "\\infty" not in s else None
    return vals is not None and len(vals[0]) == 1


def _union(s: str) -> list[tuple[str, float, float, str]] | None:
    """'(-\\infty,2)\\cup[3,5]' -> pieces with numeric endpoints, if sorted and disjoint (canonical)."""
    pieces = []
    for part in s.split("\\cup"):
        m = _INTERVAL.fullmatch(part)
        if not m:
            return None
        a, b = evaluate(m.group(2)), evaluate(m.group(3))
        if not isinstance(a, float) or not isinstance(b, float) or a > b or (pieces and pieces[-1][2] > a):
            return None
        pieces.append((m.group(1), a, b, m.group(4)))
    return pieces


def _unions_differ(gs: str, ps: str) -> bool:
    if "\\cup" not in gs + ps:
        return False
    gu, pu = _union(gs), _union(ps)
    if gu is None or pu is None:
        return False
    return len(gu) != len(pu) or any(x[0] != y[0] or x[3] != y[3] or far(x[1], y[1]) or far(x[2], y[2])
                                     for x, y in zip(gu, pu))


def fast_equal(gold: str, pred: str) -> bool | None:
    return compare_canon(canon(gold), canon(pred))
