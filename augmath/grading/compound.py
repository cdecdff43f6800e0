"""Answers made of parts, decided part by part: lists, sets, tuples, intervals, inequalities, '\\pm', names.

`compare_compound(g, p, entry)` takes two canonical answer texts and a comparator for single entries (the fast
path's own, so every part gets the same exact rules) and returns True / False when the structure settles it, or
None when the parts need sympy (or when neither side has parts: then it is not this module's business).

Policies (augmath.grading.policy):
- a bare list '3, -4' is unordered (a list of answers, like Math-Verify's sets); '(3, -4)' is an ordered tuple;
  '\\{3, -4\\}' is a set; a set never equals a tuple or an interval;
- an interval equals the inequality that describes it ('(1, 4]' == '1 < x \\le 4', either side), and a union equals
  a disjunction ('x < 2 \\text{ or } x > 3'), any single variable letter;
- '1 \\pm \\sqrt{2}' is the two-element list '1+\\sqrt{2}, 1-\\sqrt{2}';
- 'AC = 4, BD = 5' (values with names) matches '4, 5' (names dropped) and 'BD = 5, AC = 4' (names matched), not
  'AC = 5, BD = 4';
- inside a tuple, interval or matrix a decimal with at least 2 places matches a value that rounds to it at its own
  precision ('(0.6, 2.67]' == '(\\frac35, \\frac83]'); a lone decimal keeps the 6-place rule.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Callable

from augmath.grading.evaluator import evaluate
from augmath.grading.normalize import balanced, top_split
from augmath.grading.numbers import parse_number

Entry = Callable[[str, str], "bool | None"]

_INF = {"\\infty", "+\\infty", "-\\infty", "\\infin", "∞"}
_VAR = r"(?:[a-zA-Z]|[a-zA-Z]\([a-z]\)|\\[a-z]+)"  # x, f(x), \theta
_REL = r"(?:<|>|\\(?:le|ge|lt|gt)(?![a-zA-Z]))"
_DEC = re.compile(r"-?\d*\.(\d+)")


# --- splitting ----------------------------------------------------------------------------------------------
MAX_ITEMS = 40  # longer lists are not compared part by part (the table of comparisons grows as the square)


def structure(s: str) -> tuple[str, list[str]] | None:
    """('set' | 'tuple' | 'list', items) for an answer with 2 to MAX_ITEMS parts; None for a single answer (and for
    longer lists: they are left to the other rules)."""
    kind, inner = "list", s
    if s.startswith("\\{") and s.endswith("\\}") and balanced(s[2:-2].replace("\\{", "{").replace("\\}", "}")):
        kind, inner = "set", s[2:-2]
    elif s.startswith("(") and s.endswith(")") and balanced(s[1:-1]):
        kind, inner = "tuple", s[1:-1]
    elif s.startswith("{") and s.endswith("}") and balanced(s[1:-1]):
        inner = s[1:-1]  # '{1,3}': LaTeX grouping braces around a list
    items = top_split(inner, ",")
    if any(not x.strip() for x in items):
        return None
    out = []
    for x in items:
        out += expand_pm(x)
    if not 2 <= len(out) <= MAX_ITEMS:
        return None
    if kind == "tuple" and len(items) == 1:
        kind = "list"  # '(1 \pm 2)'
    return kind, out


def expand_pm(s: str) -> list[str]:
    """'a \\pm b' -> ['a+b', 'a-b'] (one \\pm, at the top level); anything else -> [s]."""
    if s.count("\\pm") != 1 or "\\mp" in s:
        return [s]
    a, b = s.split("\\pm")
    if not balanced(a) or not balanced(b):
        return [s]
    a = a.strip()
    if a.endswith("("):
        return [s]
    return [f"{a}+{b}" if a else b, f"{a}-{b}" if a else f"-{b}"]


# --- entries ------------------------------------------------------------------------------------------------
def _exact(text: str) -> Fraction | float | None:
    n = parse_number(text, thousands=False)
    if n is not None:
        return n.value
    v = evaluate(text)
    return v if isinstance(v, float) and math.isfinite(v) else None


def rounded_match(a: str, b: str) -> bool | None:
    """A decimal with k >= 2 places against a value that rounds to it at k places (None when not applicable)."""
    da, db = _DEC.fullmatch(a), _DEC.fullmatch(b)
    if bool(da) == bool(db):
        return None  # two decimals (or none): the ordinary rules decide
    dec, other, m = (a, b, da) if da else (b, a, db)
    k = len(m.group(1))
    if k < 2:
        return None
    d = Fraction(dec)
    v = _exact(other)
    if v is None:
        return None
    half = Fraction(1, 2 * 10**k)
    if isinstance(v, Fraction):
        return abs(v - d) <= half
    gap = abs(v - float(d)) - float(half)
    if abs(gap) < 1e-9 * max(1.0, abs(v)):
        return None  # on a rounding boundary as far as floats can tell
    return gap < 0


def _entry(entry: Entry, rounding: bool) -> Entry:
    def eq(a: str, b: str) -> bool | None:
        r = entry(a, b)
        if r is True or not rounding:
            return r
        rr = rounded_match(a, b)
        return r if rr is None else rr
    return eq


# --- names ----------------------------------------------------------------------------------------------------
def _named(items: list[str], name_re: re.Pattern) -> list[tuple[str | None, str]]:
    out = []
    for x in items:
        parts = top_split(x, "=")
        if len(parts) == 2 and name_re.fullmatch(parts[0].strip()):
            out.append((parts[0].strip(), parts[1].strip()))
        else:
            out.append((None, x))
    return out


# --- lists ------------------------------------------------------------------------------------------------------
def match_items(gi: list[str], pi: list[str], ordered: bool, eq: Entry) -> bool | None:
    if len(gi) != len(pi):
        return False if len(set(gi)) == len(gi) and len(set(pi)) == len(pi) else None
    if ordered:
        verdicts = [eq(a, b) for a, b in zip(gi, pi)]
        if any(v is False for v in verdicts):
            return False
        return True if all(v is True for v in verdicts) else None
    table = [[eq(a, b) for b in pi] for a in gi]
    if any(all(v is False for v in row) for row in table):
        return False
    if any(all(table[i][j] is False for i in range(len(gi))) for j in range(len(pi))):
        return False
    # a perfect matching on True entries (small lists: simple augmenting paths)
    match: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j in range(len(pi)):
            if table[i][j] is True and j not in seen:
                seen.add(j)
                if j not in match or augment(match[j], seen):
                    match[j] = i
                    return True
        return False

    if all(augment(i, set()) for i in range(len(gi))):
        return True
    return None


# --- intervals and inequalities -----------------------------------------------------------------------------------
_PIECE = re.compile(r"([(\[])(.+),(.+)([)\]])")


def _value(t: str) -> float | None:
    t = t.strip()
    if t in ("\\infty", "+\\infty", "\\infin"):
        return math.inf
    if t == "-\\infty":
        return -math.inf
    v = evaluate(t)
    return v if isinstance(v, float) else None


Piece = tuple[str, str, str, str]  # '(' or '[', low, high, ')' or ']'


def interval_pieces(s: str) -> list[Piece] | None:
    """'(-\\infty,2)\\cup[3,5]' -> pieces (low/high as text)."""
    out = []
    for part in top_split(s, "\\cup"):
        m = _PIECE.fullmatch(part.strip())
        if not m or len(top_split(m.group(2) + "," + m.group(3), ",")) != 2:
            return None
        out.append((m.group(1), m.group(2).strip(), m.group(3).strip(), m.group(4)))
    return out


_OP = {"<": "<", ">": ">", "\\lt": "<", "\\gt": ">", "\\le": "<=", "\\ge": ">="}
_ONE = re.compile(rf"^(.+?)({_REL})(.+?)(?:({_REL})(.+))?$")


def _one(cond: str) -> tuple[str, list[Piece]] | None:
    """One condition in one variable -> (variable, pieces). 'a<x\\le b', 'x>2', '2<x', '|x|>1', 'x\\ne 3' (None)."""
    cond = cond.strip()
    m = _ONE.fullmatch(cond)
    if not m:
        return None
    a, op1, b, op2, c = m.groups()
    a, b = a.strip(), b.strip()
    if op2 is None:
        if re.fullmatch(_VAR, a):
            var, op, bound = a, _OP[op1], b
        elif re.fullmatch(_VAR, b):
            var, op, bound = b, {"<": ">", ">": "<", "<=": ">=", ">=": "<="}[_OP[op1]], a
        elif re.fullmatch(rf"\|{_VAR}\|", a):
            v = _value(b)
            if v is None or v <= 0:
                return None
            var, neg = a[1:-1], "-" + b if not b.startswith("-") else b[1:]
            if _OP[op1] in ("<", "<="):
                br = "(" if _OP[op1] == "<" else "["
                return var, [(br, neg, b, ")" if br == "(" else "]")]
            br = "(" if _OP[op1] == ">" else "["
            return var, [("(", "-\\infty", neg, ")" if br == "(" else "]"), (br, b, "\\infty", ")")]
        else:
            return None
        if _value(bound) is None:
            return None
        if op in ("<", "<="):
            return var, [("(", "-\\infty", bound, ")" if op == "<" else "]")]
        return var, [("(" if op == ">" else "[", bound, "\\infty", ")")]
    c = c.strip()
    o1, o2 = _OP[op1], _OP[op2]
    if o1[0] != o2[0]:
        return None
    if o1[0] == ">":  # 'b > x > a' -> 'a < x < b'
        a, c = c, a
        o1, o2 = {">": "<", ">=": "<="}[o2], {">": "<", ">=": "<="}[o1]
    va, vc = _value(a), _value(c)
    if va is None or vc is None or va >= vc:
        return None
    if re.fullmatch(_VAR, b):
        return b, [("(" if o1 == "<" else "[", a, c, ")" if o2 == "<" else "]")]
    if re.fullmatch(rf"\|{_VAR}\|", b) and va > 0:  # 'a \le |z| \le c'
        lo_br, hi_br = ("(" if o1 == "<" else "["), (")" if o2 == "<" else "]")
        na, nc = "-" + a, "-" + c
        return b[1:-1], [("(" if hi_br == ")" else "[", nc, na, ")" if lo_br == "(" else "]"), (lo_br, a, c, hi_br)]
    return None


def _sort(pieces: list[Piece]) -> list[Piece] | None:
    vals = []
    for p in pieces:
        lo, hi = _value(p[1]), _value(p[2])
        if lo is None or hi is None or lo > hi:
            return None
        vals.append((lo, hi, p))
    vals.sort(key=lambda t: (t[0], t[1]))
    for (l1, h1, _), (l2, h2, _) in zip(vals, vals[1:]):
        if h1 > l2:
            return None  # overlapping pieces: not canonical, leave it to sympy
    return [p for _, _, p in vals]


def inequality_pieces(s: str) -> list[Piece] | None:
    """Inequalities in one variable as sorted interval pieces; a comma list is a union when its parts are
    disjoint and an intersection when together they cover everything ('x > 1, x < 5'); 'x \\ne c' punches a hole."""
    if not re.search(_REL, s) and "\\ne" not in s:
        return None
    conds = top_split(s, ",")
    holes, pieces, var = [], [], None
    for c in conds:
        m = re.fullmatch(rf"\s*({_VAR})\s*\\ne\s*(.+)", c)
        if m:
            holes.append((m.group(1), m.group(2).strip()))
            continue
        one = _one(c)
        if one is None:
            return None
        if var is not None and one[0] != var:
            return None
        var = one[0]
        pieces.append(one[1])
    if not pieces and len(holes) == 1:  # 'x \\ne 0': everything but one point
        var, pieces = holes[0][0], [[("(", "-\\infty", "\\infty", ")")]]
    if not pieces or any(h[0] != var for h in holes):
        return None
    if len(pieces) == 1:
        out = pieces[0]
    elif len(pieces) == 2 and all(len(p) == 1 for p in pieces):
        a, b = pieces[0][0], pieces[1][0]
        flat = _sort([a, b])
        if flat is not None:
            out = flat  # disjoint: 'x < 2, x > 3' is a union
        else:  # 'x > 1, x < 5': an intersection when one is a left ray and the other a right ray
            left = [p for p in (a, b) if p[1] == "-\\infty"]
            right = [p for p in (a, b) if p[2] == "\\infty"]
            if len(left) != 1 or len(right) != 1:
                return None
            lo, hi = right[0], left[0]
            if (_value(lo[1]) or 0) >= (_value(hi[2]) or 0):
                return None
            out = [(lo[0], lo[1], hi[2], hi[3])]
    else:
        out = _sort([p for ps in pieces for p in ps])
        if out is None:
            return None
    for _, h in holes:
        hv = _value(h)
        if hv is None:
            return None
        new = []
        for p in out:
            lo, hi = _value(p[1]), _value(p[2])
            if lo < hv < hi:
                new += [(p[0], p[1], h, ")"), ("(", h, p[2], p[3])]
            else:
                new.append(p)
        out = new
    return _sort(out)


def pieces_of(s: str) -> list[Piece] | None:
    m = re.fullmatch(rf"({_VAR})\\in(.+)", s)
    if m:
        s = m.group(2)
    return interval_pieces(s) if not re.search(_REL + r"|\\ne(?![a-zA-Z])", s) else inequality_pieces(s)


def _inf(t: str) -> str | None:
    t = t.strip()
    return "+" if t in ("\\infty", "+\\infty", "\\infin") else "-" if t == "-\\infty" else None


def _holds(rel: str, var: str, x: float) -> bool | None:
    """Does the relation hold at var = x? None when it cannot be evaluated or x is (nearly) on its boundary."""
    m = _ONE.fullmatch(_rename(rel, var, f"({x!r})"))
    if not m:
        return None
    a, op1, b, op2, c = m.groups()
    sides = [evaluate(t) for t in ((a, b) if op2 is None else (a, b, c))]
    if any(not isinstance(v, float) for v in sides):
        return None
    ops = [_OP[op1]] + ([_OP[op2]] if op2 else [])
    out = True
    for (lo, hi), op in zip(zip(sides, sides[1:]), ops):
        if abs(lo - hi) < 1e-6 * max(1.0, abs(lo), abs(hi)):
            return None
        out &= lo < hi if op[0] == "<" else lo > hi
    return out


def _rename(s: str, var: str, value: str) -> str:
    return re.sub(rf"(?<![A-Za-z\\]){var}(?![A-Za-z])", lambda _: value, s)


def membership_differs(pieces: list[Piece], rel: str) -> bool:
    """An interval against a relation in one variable that _one() cannot turn into intervals ('x^2-5x-4>0'):
    a sample point inside the interval where the relation fails, or outside where it holds, proves them different."""
    letters = set(re.findall(r"(?<![A-Za-z\\])[a-z](?![A-Za-z])", rel))
    if len(letters) != 1 or not re.search(_REL, rel):
        return False
    var = letters.pop()
    points = []
    for _, lo, hi, _ in pieces:
        a, b = _value(lo), _value(hi)
        if a is None or b is None:
            return False
        a2 = a if math.isfinite(a) else (b - 10 if math.isfinite(b) else -10.0)
        b2 = b if math.isfinite(b) else a2 + 10
        points.append(((a2 + b2) / 2, True))
        if math.isfinite(a):
            points.append((a - 1, False))
        if math.isfinite(b):
            points.append((b + 1, False))
    for x, inside in points:
        if inside is False and any(_value(p[1]) < x < _value(p[2]) for p in pieces):
            continue  # the point outside one piece lies inside another
        holds = _holds(rel, var, x)
        if holds is not None and holds != inside:
            return True
    return False


def compare_pieces(gp: list[Piece], pp: list[Piece], eq: Entry) -> bool | None:
    if len(gp) != len(pp):
        return False
    undecided = False
    for a, b in zip(gp, pp):
        if a[0] != b[0] or a[3] != b[3]:
            return False
        for x, y in ((a[1], b[1]), (a[2], b[2])):
            ix, iy = _inf(x), _inf(y)
            if ix or iy:
                if ix != iy:
                    return False
                continue
            r = eq(x, y)
            if r is False:
                return False
            undecided |= r is None
    return None if undecided else True


# --- the entry point --------------------------------------------------------------------------------------------
def interval_text(pieces: list[Piece]) -> str:
    return "\\cup".join(f"{a}{lo},{hi}{b}" for a, lo, hi, b in pieces)


def drop_names(g: str, p: str, name_re: re.Pattern) -> tuple[str, str]:
    """Lists of named values against unnamed ones: the names go ('AB=4,CD=5' vs '4,5' -> '4,5' vs '4,5')."""
    gs, ps = structure(g), structure(p)
    if gs is None or ps is None:
        return g, p
    gn, pn = _named(gs[1], name_re), _named(ps[1], name_re)
    g_named, p_named = any(n for n, _ in gn), any(n for n, _ in pn)
    if g_named == p_named:
        return g, p
    return ",".join(v for _, v in gn), ",".join(v for _, v in pn)


def compare_compound(g: str, p: str, entry: Entry, name_re: re.Pattern, unordered: bool = True,
                     rounding: bool = True, inequalities: bool = True) -> bool | None:
    eq = _entry(entry, rounding)
    gp, pp = pieces_of(g), pieces_of(p)
    if gp is not None and pp is not None:
        written_as = (bool(re.search(_REL, g)), bool(re.search(_REL, p)))
        if inequalities or written_as[0] == written_as[1]:
            return compare_pieces(gp, pp, eq)
        return None
    if (gp is None) != (pp is None):  # an interval against a relation we cannot rewrite ('x^2-5x-4>0')
        if membership_differs(gp or pp, p if gp else g):
            return False
    gs, ps = structure(g), structure(p)
    if gs is None and ps is None:
        return None
    if gs is None or ps is None:
        kind, items = gs or ps
        scalar = p if gs else g
        if kind == "set" or len(set(items)) == len(items):
            if pieces_of(scalar) is None and "=" not in scalar and not re.search(_REL + r"|\\ne", scalar):
                return False  # one answer against several different ones
        return None
    (gk, gi), (pk, pi) = gs, ps
    if "set" in (gk, pk) and "tuple" in (gk, pk):
        return False
    gn, pn = _named(gi, name_re), _named(pi, name_re)
    g_names, p_names = [n for n, _ in gn if n], [n for n, _ in pn if n]
    if len(g_names) == len(gn) and len(p_names) == len(pn):  # names on both sides: match them by name
        if sorted(g_names) != sorted(p_names) or len(set(g_names)) != len(g_names):
            return None  # different names: sympy decides (or says no)
        gd, pd = dict(gn), dict(pn)
        verdicts = [eq(gd[n], pd[n]) for n in g_names]
        if any(v is False for v in verdicts):
            return False
        return True if all(v is True for v in verdicts) else None
    ordered = "tuple" in (gk, pk) or not unordered
    return match_items([v for _, v in gn], [v for _, v in pn], ordered, eq)
