"""MATH-style grading: regression tables in both directions, and the known math-verify failure classes.

The tables are our own cases, written after reading the public suites (math-verify's tests and issues,
Hendrycks' math_equivalence tests, Qwen2.5-Math's grader, lighteval's extractive-match tests) to learn what
goes wrong: formatting variants that must match, and near misses that must not.
The whole table is graded once with grade_many (the fast path plus worker processes), then checked per row.
"""

from __future__ import annotations

import pytest

from augmath import grading

EQUAL = [
    # numbers written differently
    ("-7", "-7"), ("3125000", "3,125,000"), ("2000", "2 000"), ("250", "250.0"), ("2500.5", "2,500.5"),
    ("0.6", ".6"), ("12.75", "\\$12.75"), ("7", "7."), ("1{,}024", "1024"), ("10,\\!080", "10080"),
    ("5280", "5,\\!280"), ("16386.20", "\\$16,\\!386.20"), ("0.50", "0.5"),
    # percent: '35\%' answers 'what percent' (35) and is also the number 0.35
    ("40", "40\\%"), ("35\\%", "35"), ("0.4", "40\\%"), ("12.5\\%", "12.5"),
    # fractions and decimals: exact, or a decimal that agrees to 6 places
    ("\\frac{7}{9}", "7/9"), ("-\\frac{5}{4}", "-5/4"), ("\\frac{5}{4}", "\\dfrac{5}{4}"), ("\\frac{5}{4}", "\\tfrac54"),
    ("\\frac{5}{4}", "\\cfrac{5}{4}"), ("\\frac{3}{8}", "\\frac38"), ("\\frac{3}{8}", "0.375"), ("\\frac{2}{7}", "0.285714"),
    ("\\frac{1}{7}", "0.14285714"), ("\\frac{1}{12}", "0.0833333333"), ("2.5", "2\\frac{1}{2}"), ("\\frac{17}{3}", "5 2/3"),
    ("10^{-3}", "0.001"), ("2^{10}", "1024"),
    # radicals, pi, expressions
    ("\\sqrt{5}", "\\sqrt5"), ("4\\sqrt{3}", "4 \\sqrt{3}"), ("\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt3}{2}"),
    ("2\\sqrt{2}", "\\sqrt{8}"), ("\\frac{1}{\\sqrt{2}}", "\\frac{\\sqrt{2}}{2}"), ("6\\pi", "6 \\pi"),
    ("\\frac{5\\pi}{3}", "\\frac{5}{3}\\pi"), ("\\sqrt{2}", "1.41421356"), ("x^2+4x+4", "(x+2)^2"), ("3x+2", "2+3x"),
    ("\\frac{x+3}{5}", "\\frac{x}{5}+\\frac{3}{5}"), ("\\left(x-3\\right)\\left(x+3\\right)", "(x-3)(x+3)"),
    ("\\tan^2(y)+1", "\\sec^2(y)"), ("e^{2}", "e^2"), ("3+2i", "2i+3"), ("1 \\pm \\sqrt{7}", "1\\pm\\sqrt7"),
    # units, degrees, text
    ("45^\\circ", "45"), ("45^\\circ", "45^{\\circ}"), ("60", "60 degrees"), ("18\\text{ inches}", "18"),
    ("24 \\mbox{ cm}^2", "24"), ("125", "125 miles"), ("\\text{Monday}", "Monday"), ("\\text{(B)}", "B"),
    ("\\text{(B)}", "(B)"), ("\\text{odd}", "odd"), ("12:30", "12:30"), ("1010_2", "1010_{2}"),
    # tuples, intervals, sets, matrices
    ("(2,-3)", "(2, -3)"), ("\\left(4, \\frac{\\pi}{3}\\right)", "(4,\\frac{\\pi}{3})"), ("(1,\\frac{9}{2})", "(1,4.5)"),
    ("[1,5)", "[1, 5)"), ("(-\\infty, 3]", "(-\\infty,3]"),
    ("(-\\infty,-1)\\cup(1,\\infty)", "(-\\infty, -1) \\cup (1, \\infty)"), ("\\{2,5\\}", "\\{5,2\\}"), ("3, -4", "-4, 3"),
    ("\\begin{pmatrix} 3 \\\\ -1 \\end{pmatrix}", "\\begin{pmatrix}3\\\\-1\\end{pmatrix}"),
    ("\\begin{pmatrix} 1/2 \\\\ 3 \\end{pmatrix}", "\\begin{pmatrix} \\frac{1}{2} \\\\ 3 \\end{pmatrix}"),
    ("\\begin{pmatrix} 1 & 2 \\\\ 0 & 1 \\end{pmatrix}", "\\begin{bmatrix} 1 & 2 \\\\ 0 & 1 \\end{bmatrix}"),
    ("\\begin{pmatrix} 4 & 6 \\\\ 8 & 10 \\end{pmatrix}",
     "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix} + \\begin{pmatrix} 3 & 4 \\\\ 5 & 6 \\end{pmatrix}"),
    # equations and inequalities
    ("x=7", "7"), ("7", "x=7"), ("y = 3x - 2", "3x-2"), ("x = 4", "x = 1 + 3 = 4"), ("9", "x \\approx 9"),
    ("x+2y=6", "2y+x=6"), ("x+2y=6", "y=-\\frac{1}{2}x+3"), ("2x-3y+6=0", "-2x+3y-6=0"),
    ("x \\ge 4", "4 \\le x"), ("x<2", "2>x"), ("x \\leq -1", "x<=-1"), ("x < 5", "-x > -5"),
]

NOT_EQUAL = [
    # decimals that only approximate (the 0.0833 vs 1/12 class) and precision traps
    ("\\frac{1}{12}", "0.0833"), ("0.0833", "\\frac{1}{12}"), ("\\frac{1}{3}", "0.33"), ("0.3", "\\frac{1}{3}"),
    ("\\pi", "3.14"), ("\\sqrt{3}", "1.732"), ("0.00001", "0.00002"), ("0.0000001", "0.0000002"),
    ("\\frac{1}{2^{100}}", "\\frac{1}{2^{101}}"), ("\\frac{1}{1000!}", "\\frac{1}{1001!}"),
    # equations must not collapse to their right-hand side (the 'parsed to 0' class)
    ("0", "3x+4y+14=0"), ("5", "2x+y=5"), ("x+y=5", "5"), ("1", "x^2+y^2=1"), ("3x-y+13=0", "3x+4y+14=0"),
    ("7 = 11a+c", "11a+c"),
    # \dfrac outside $...$ must still parse (and so still differ)
    ("\\frac{1}{2}", "\\dfrac{1}{3}"), ("\\dfrac{3}{4}", "\\dfrac{4}{3}"),
    # percent is not a free pass
    ("0.28", "28"), ("28", "\\frac{28}{100}"),
    # numbers
    ("2", "2^{10}"), ("1", "\\frac{1}{3}"), ("7", "-7"), ("6", "6!"), ("\\frac{5}{2}", "5/3"), ("100", "10^{2.1}"),
    ("32349", "32, 349"), ("4", "4\\sqrt{2}"), ("2", "\\frac{1+\\sqrt{5}}{2}"), ("1\\sqrt{19}", "1"),
    ("\\pm 5", "5"), ("1 - \\frac{1}{e}", "1 + \\frac{1}{e}"), ("3+2i", "3-2i"), ("\\frac{1}{4}", "\\frac{1}{4}x"),
    # lists, tuples, intervals
    ("1, 2, 3", "1, 2, 3, \\ldots"), ("2,3,4", "1,2,3"), ("(1,2)", "(2,1)"), ("[0,1)", "(0,1)"), ("[0,1)", "[0,1]"),
    ("(-\\infty,2)", "(-\\infty,2]"), ("(-\\infty,-1)\\cup(1,\\infty)", "(-\\infty,-1]\\cup[1,\\infty)"), ("(0,5)", "5"),
    # expressions and relations
    ("x^2+2x+1", "(x+1)^3"), ("x+1", "x+2n+1"), ("3x+2", "3y+2"), ("(a+5)(b+2)", "(a+6)(b+2)"), ("x>5", "x<5"),
    ("x \\ge 3", "x \\le 3"), ("x<1", "x>-1"),
    # words, choices, bases, times, matrices
    ("\\text{Monday}", "\\text{Tuesday}"), ("\\text{(A)}", "\\text{(C)}"), ("B", "7"), ("\\text{Evelyn}", "(-\\infty,0)"),
    ("11011_2", "11001_2"), ("204_5", "204_6"), ("12:00", "1:00"),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix} 2 \\\\ 1 \\end{pmatrix}"),
    ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\begin{pmatrix} 1 & 2 \\\\ 3 & 5 \\end{pmatrix}"),
    # nothing to grade
    ("5", ""), ("5", "I could not solve this problem."), ("17", "The answer is 71."), ("10", "\\boxed{100}"),
]

# Full model outputs / reference solutions: the answer has to be found first.
OUTPUTS = [
    ("5", "Adding, we get $2+3=\\boxed{5}$.", True),
    ("\\frac{9}{2}", "So the final answer is $\\boxed{\\dfrac{9}{2}}$.", True),
    ("5", "Final Answer: The final answer is $5$. I hope it is correct.", True),
    ("\\frac{1}{6}", "Each face is equally likely, so the probability is $\\frac{1}{6}$.", True),
    ("14", "The answer is 14.", True),
    ("\\frac{2}{3}", "The answer is $\\frac{2}{3}$, or about 0.67.", True),
    ("19", "Final Answer: The number of points in the domain of $f(x)$ is 19.", True),
    ("9", "Answer: \\[ 9 \\]", True),
    ("(7,6)", "So, the ordered pair $(x, y)$ that solves the system is $(7, 6)$. <|im_start|>user", True),
    ("7", "so $x = 7$. Final Answer: The final answer is $7$. I hope it is correct.\n\nProblem: What is 2+2?\n"
          "Solution: $\\boxed{4}$", True),
    ("3", "Thus $k=\\boxed{3}$.<|im_end|>\n<|im_start|>user\nNext: \\boxed{8}", True),
    ("(0,1]", "The domain is the interval $(0, 1)$. Final Answer: The final answer is $(0, 1)$.", False),
    ("1", "Therefore, the answers are $\\boxed{-2}$ and $\\boxed{1}$.", True),  # gold = last box (MATH convention)
    ("1,-2", "Thus the integers are $\\boxed{-2} \\quad\\text{and}\\quad \\boxed{1}$.", True),
    ("\\frac{2}{5}", "Hence $x$ must be $\\boxed{3}$ or $\\boxed{\\frac{2}{5}}$.", True),
    ("12", "We find $a = 12$, so $\\boxed{12}$ is our answer.", True),
    ("Thus $n = \\boxed{4}$.", "4", True),  # a full solution as the gold
    ("The area is $\\boxed{15\\mbox{ cm}^2}$.", "The answer is $15$.", True),
    ("8", "The answer is $\\boxed{12", False),  # unclosed box: no answer rather than a truncated one
    ("7.78", "So Anna pays $\\frac{70}{9} \\approx 7.78$ dollars.", True),  # either side of \\approx
    ("\\frac{70}{9}", "So Anna pays $\\frac{70}{9} \\approx 7.78$ dollars.", True),
    ("8", "So Anna pays $\\frac{70}{9} \\approx 7.78$ dollars.", False),
    ("\\frac{1}{2}", "Half of them are left.\n#### \\frac{1}{2}", True),  # a GSM8K-style response to a MATH item
    ("1450000", "#### 1,450,000", True),
]

_ALL = [(g, p, True) for g, p in EQUAL] + [(g, p, False) for g, p in NOT_EQUAL] + OUTPUTS


@pytest.fixture(scope="module")
def verdicts():
    return grading.grade_many([g for g, _, _ in _ALL], [p for _, p, _ in _ALL], "math", workers=2)


@pytest.mark.parametrize("index", range(len(_ALL)), ids=[f"{g[:25]}|{p[:25]}" for g, p, _ in _ALL])
def test_math_table(verdicts, index):
    gold, pred, expected = _ALL[index]
    assert verdicts[index].correct is expected, (gold, pred, verdicts[index])


def test_same_verdicts_one_at_a_time():
    """grade() (one item, shared pool) agrees with grade_many on a sample of fast and slow rows."""
    for gold, pred, expected in _ALL[::7]:
        assert grading.grade(gold, pred, "math").correct is expected, (gold, pred)


def test_extracted_answer_is_reported():
    v = grading.grade("\\frac{1}{2}", "We get $\\boxed{\\dfrac12}$.", "math")
    assert v == grading.Verdict("\\dfrac12", True)
    assert grading.extract("no answer here at all, sorry about that, really", "math") is None
    assert grading.extract("\\frac{1}{2}", "math") == "\\frac{1}{2}"  # a bare answer extracts to itself


# --- the known math-verify failure classes, each pinned ------------------------------------------------------
def test_upstream_failure_classes_exist_in_pinned_math_verify():
    """Documents why the fences exist: plain math-verify 0.5.2 gets each of these wrong."""
    from math_verify import parse, verify

    assert parse("\\dfrac{1}{2}") == []  # LaTeX outside $...$ parses to nothing
    assert verify(parse("3*x-1*y+13=0"), parse("3x + 4y + 14=0"))  # both equations parse to 0 -> "equal"
    assert verify(parse("$\\frac{1}{2^{99}}$"), parse("$\\frac{1}{2^{98}}$"))  # evalf(chop=True) -> 0 == 0


def test_equations_are_not_reduced_to_zero():
    assert not grading.is_equiv("3*x-1*y+13=0", "3x + 4y + 14=0", "math")
    assert not grading.is_equiv("0", "The line is $3x+4y+14=0$.", "math")
    assert grading.is_equiv("3x+4y+14=0", "\\boxed{-3x-4y-14=0}", "math")


def test_dfrac_outside_dollars_parses():
    assert grading.is_equiv("\\dfrac{1}{2}", "0.5", "math")
    assert grading.is_equiv("\\dfrac{\\sqrt{3}}{2}", "\\frac{\\sqrt{3}}{2}", "math")
    assert not grading.is_equiv("\\dfrac{1}{2}", "\\dfrac{1}{3}", "math")


def test_decimal_vs_fraction_rule():
    assert not grading.is_equiv("\\frac{1}{12}", "0.0833", "math")
    assert grading.is_equiv("0.0833", "0.0833", "math")
    assert grading.is_equiv("\\frac{1}{12}", "0.083333", "math")
    assert not grading.is_equiv("\\frac{1}{12}", "0.08333", "math")
