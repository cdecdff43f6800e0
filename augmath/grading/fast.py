"""The grader's cheap path for MATH-style answers: decide most pairs without sympy.

`fast_equal(gold, pred, policy)` returns True / False when it is sure, and None when only sympy can tell
(`symbolic_pair` then gives the pair as sympy should see it).
  True   the canonical strings are identical; or both are plain numbers (or matrices, tuples, sets, intervals of
         them, part by part: augmath.grading.compound) with equal exact values. Never from floating-point
         evidence, except one documented case: a decimal entry of a tuple/interval/matrix rounded at its own
         precision (policy rounding_in_compounds), decided only when it is not within 1e-9 of a rounding boundary.
  False  both are plain numbers that differ; or both evaluate (augmath.grading.evaluator: a tiny float grammar
         with variables at fixed points) to values that differ far beyond any rounding; or two different
         words / a word and a number; or two equations that are not multiples of each other.
"""

from __future__ import annotations

import re
from functools import lru_cache

from augmath.grading import compound
from augmath.grading.evaluator import GREEK, evaluate, far
from augmath.grading.normalize import _FUNC_WORDS, NAME, Canon, canon, split_list
from augmath.grading.numbers import numbers_equal, parse_number, percent_variants
from augmath.grading.policy import DEFAULT, Policy

_BASE = re.compile(r"(-?[0-9A-Za-z.]+)_\{?(\d+)\}?")
_WORD = re.compile(r"[a-z][a-z ]{2,}")
_MATRIX = re.compile(r"\(?\\begin\{([pb]?matrix)\}((?:(?!\\begin|\\end).)*)\\end\{[pb]?matrix\}\)?", re.DOTALL)
_FUNC_LHS = re.compile(r"([A-Za-z]|\\[a-zA-Z]+)\(([a-z])\)")
_BOUND = (re.compile(r"\\(?:sum|prod)_\{([a-z])="), re.compile(r"\\lim_\{([a-z])\\to"),
          re.compile(r"\\\{([a-z])(?:\\mid|\||:)"), re.compile(r"\\int.*?d([a-z])$"))
_PLACEHOLDERS = ("\\xi", "\\eta", "\\zeta")
_TEXT_WORD = re.compile(r"[a-zA-Z]{3,}")
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


def _compare_matrices(gm: list[list[str]], pm: list[list[str]], policy: Policy) -> bool | None:
    if [len(r) for r in gm] != [len(r) for r in pm]:
        return False
    undecided = False
    for gc, pc in zip(sum(gm, []), sum(pm, [])):
        r = _entry(gc, pc, policy)
        if r is not True and policy.rounding_in_compounds:
            rounded = compound.rounded_match(gc.strip(), pc.strip())
            r = r if rounded is None else rounded
        if r is False:
            return False
        undecided |= r is None
    return None if undecided else True


def _entry(a: str, b: str, policy: Policy) -> bool | None:
    return compare_canon(canon(a), canon(b), policy)


def _rename_var(s: str, old: str, new: str) -> str:
    return re.sub(rf"(?<![A-Za-z\\]){re.escape(old)}(?![A-Za-z])", lambda _: new, s)


def rename_bound(s: str) -> str:
    """Bound variables get fixed names: '\\sum_{j=1}^{n} j^2' and '\\sum_{k=1}^{n} k^2' read the same."""
    if "\\" not in s:
        return s
    names: list[str] = []
    for rx in _BOUND:
        for m in rx.finditer(s):
            if m.group(1) not in names and len(names) < len(_PLACEHOLDERS):
                names.append(m.group(1))
    for i, v in enumerate(names):
        s = _rename_var(s, v, _PLACEHOLDERS[i])
    return s


def _sides(g: Canon, p: Canon, policy: Policy = DEFAULT) -> tuple[str, str] | None:
    """Align assignments: 'x=5' vs '5' compares '5' with '5'; 'x=5' vs 'y=5' is for sympy to judge;
    'f(x)=2x+1' vs 'f(t)=2t+1' compares '2x+1' with '2x+1' (the argument is a bound variable)."""
    if not policy.named_values:
        g = g if not g.named else Canon(g.text, g.percent)
        p = p if not p.named else Canon(p.text, p.percent)
    if g.lhs is not None and p.lhs is not None:
        if g.lhs == p.lhs:
            return g.rhs, p.rhs
        fg, fp = _FUNC_LHS.fullmatch(g.lhs), _FUNC_LHS.fullmatch(p.lhs)
        if fg and fp and fg.group(1) == fp.group(1):
            return g.rhs, _rename_var(p.rhs, fp.group(2), fg.group(2))
        return None
    if (g.lhs is not None and "=" in p.text) or (p.lhs is not None and "=" in g.text):
        return g.text, p.text  # 'y = x/2 + 1' vs 'x - 2y + 2 = 0': equation against equation
    return (g.rhs if g.lhs is not None else g.text), (p.rhs if p.lhs is not None else p.text)


def _has_words(s: str) -> bool:
    """Prose words in an answer ('June 20'), beyond function names and units already stripped."""
    return any(w.lower() not in _FUNC_WORDS for w in _TEXT_WORD.findall(re.sub(r"\\[a-zA-Z]+", " ", s)))


def compare_canon(g: Canon, p: Canon, policy: Policy = DEFAULT) -> bool | None:
    if g.text == p.text:
        return True
    sides = _sides(g, p, policy)
    if sides is None:
        return False if _equations_differ(g.text, p.text) else None
    gs, ps = sides
    if gs == ps:
        return True
    if policy.decimal_comma and p.comma_decimal and parse_number(gs, thousands=False) is not None:
        ps = p.comma_decimal  # '3,75' against a one-number gold: 3.75 (a gold '1,2' is two answers)
    if "\\" in gs or "\\" in ps:
        gs, ps = rename_bound(gs), rename_bound(ps)
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
    if (gn is not None and _has_words(ps)) or (pn is not None and _has_words(gs)):
        return False  # '22' vs 'June 20'
    r = compound.compare_compound(gs, ps, lambda a, b: _entry(a, b, policy), NAME, policy.unordered_lists,
                                  policy.rounding_in_compounds, policy.sets_as_inequalities)
    if r is not None:
        return r
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
        return _compare_matrices(gm, pm, policy)
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


def fast_equal(gold: str, pred: str, policy: Policy = DEFAULT) -> bool | None:
    return compare_canon(canon(gold), canon(pred), policy)


@lru_cache(maxsize=65536)
def symbolic_pair(gold: str, pred: str, policy: Policy = DEFAULT) -> tuple[str, str]:
    """The pair as sympy should see it when the fast path cannot decide: names dropped where only one side has
    them, bound variables renamed, an inequality against an interval written as intervals, a decimal comma read."""
    g, p = canon(gold), canon(pred)
    sides = _sides(g, p, policy)
    if sides is None:
        return gold, pred
    gs, ps = sides
    if policy.decimal_comma and p.comma_decimal and parse_number(gs, thousands=False) is not None:
        ps = p.comma_decimal
    gs, ps = rename_bound(gs), rename_bound(ps)
    if policy.named_values:
        gs, ps = compound.drop_names(gs, ps, NAME)
    gp, pp = compound.pieces_of(gs), compound.pieces_of(ps)
    if gp is not None and pp is not None and policy.sets_as_inequalities:
        gs, ps = compound.interval_text(gp), compound.interval_text(pp)
    if (gs, ps) == (g.text, p.text):
        return gold, pred  # nothing rewritten: the worker sees the answers as given (percent signs and all)
    return gs, ps
