"""The grader's policy questions, each an explicit setting with a default (docs/grading.md, "Policies").

Every setting answers a question where two reasonable graders disagree. The default follows Math-Verify where
Math-Verify has a choice; where augmath differs, the reason is given here and in the docs.

    grading.grade(gold, prediction, "math", policy=Policy(unordered_lists=False))
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    decimal_comma: bool = True
    """'3,75' is the number 3.75 when no other reading fits: one comma followed by one or two digits ('1000,99'),
    or '0,' and digits ('0,111'); three digits after a comma stay a thousands separator ('12,000'), and a list
    with spaces ('1, 2') stays two answers. For MATH answers the reading applies to the prediction only, and only
    when the gold is a single number (a gold '1,2' is a list of two answers). Math-Verify reads these as decimals
    too (0.5.2 in plain text; its tests expect it in LaTeX as well)."""

    unordered_lists: bool = True
    """A bare list of answers '3, -4' (and a set '\\{3, -4\\}') is unordered; a parenthesised tuple '(3, -4)' is
    ordered, and a bare list compared with a tuple is read in order. Math-Verify's choice (its sets); Hendrycks'
    string match says '10, 4, -2' != '4, 10, -2'. False: bare lists are ordered too."""

    named_values: bool = True
    """A value with a name, 'AC = 5', '|PQ| = 2', 'P:Q = 3:8', 'h(2) = 7', '\\tan\\theta = 3/4', equals the value
    alone, either side; two names must agree ('AC = 5' != 'AB = 5'). An equation whose left side is not a name
    ('x + y = 5', '2x = 10') never equals its right side. Math-Verify does the same for assignments to a symbol
    ('k = 1'), and for 'f(x) = 1', '|AB| = 1', 'A:B = 1' in its tests."""

    sets_as_inequalities: bool = True
    """An interval or union equals the inequality that describes it, either side: '(1, 4]' == '1 < x \\le 4',
    '(-\\infty, 2) \\cup (3, \\infty)' == 'x < 2 \\text{ or } x > 3'. Math-Verify compares a predicted interval with
    a gold inequality by default but not the reverse (allow_set_relation_comp=False); augmath accepts both
    directions, since a gold written as an inequality is the same answer (issue #17)."""

    rounding_in_compounds: bool = True
    """Inside a tuple, interval or matrix, a decimal with at least 2 places matches an exact value that rounds to it
    at its own precision ('(0.6, 2.67]' == '(\\frac{3}{5}, \\frac{8}{3}]'); with fewer places it must be exact. A lone
    decimal keeps Math-Verify's 6-place rule ('0.33' != '1/3'). Math-Verify applies one precision to everything
    (6 places by default; its interval and matrix tests pass precision=2 explicitly). augmath differs because a
    rounded entry of a vector or interval is a usual way to write it, while a rounded lone number is usually an
    answer to a question that asked for an exact one."""


DEFAULT = Policy()
