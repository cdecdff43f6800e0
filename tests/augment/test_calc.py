"""augmath.augment.calc: exact, eval()-free evaluation of GSM8K calculator annotations."""

from fractions import Fraction

import pytest

from augment_fixtures import gsm8k_train  # noqa: F401  (fixture)
from augmath.augment import calc


@pytest.mark.parametrize("expr, value", [
    ("48/2", 24), ("0.2*50", 10), ("100-50-30-15", 5), ("560//10", 56), ("2**3**2", 512), ("2^3", 8),
    ("-(2+3)*2**2", -20), ("3*-2", -6), ("1,000*3", 3000), ("$5 x 3", 15), ("20%*50", 10), ("7%3", 1),
    (".5*354000", 177000), ("0.1+0.2", Fraction(3, 10)), ("10/3", Fraction(10, 3)), ("(1/2)*108", 54),
])
def test_evaluate_exact(expr, value):
    assert calc.evaluate(expr) == value


@pytest.mark.parametrize("expr", ["", "abc", "(2+3", "1/0", "9**9**9", "2**0.5", "__import__('os')", "3+", "5 7"])
def test_evaluate_rejects(expr):
    with pytest.raises(calc.CalcError):
        calc.evaluate(expr)


def test_check_uses_stated_precision():
    assert calc.check("48/2=24")
    assert calc.check("10/3=3.33")  # rounded to the decimals it shows
    assert not calc.check("10/3=3")  # an integer result must be exact (to 1e-3)
    assert not calc.check("7/2=3")
    assert not calc.check("2+2=5")
    assert not calc.check("2+2")  # no result
    assert not calc.check("=4")


def test_every_gsm8k_train_annotation_checks(gsm8k_train):
    # The reference data is the ground truth for the checker: all 23,716 annotations evaluate exactly.
    bodies = [a.body for r in gsm8k_train for a in calc.find_annotations(r.solution)]
    assert len(bodies) == 23716
    assert all(calc.check(b) for b in bodies)


def test_operands_and_tree_reevaluate():
    tree, ops = calc.parse("12/60*50")
    assert [o.text for o in ops] == ["12", "60", "50"]
    assert calc.evaluate_tree(tree, lambda i, o: [Fraction(24), o.value, o.value][i]) == 20


def test_equation_key_and_validity_of_a_response():
    text = "He has 3*4=<<3*4=12>>12 apples.\nThen 12+5 = <<12+5=17>>17.\n#### 17"
    assert calc.equation_key(text) == "3*4=12|12+5=17"
    assert calc.all_annotations_valid(text)
    assert not calc.all_annotations_valid(text.replace("=17>>", "=18>>"))


def test_format_number():
    assert calc.format_number(Fraction(24)) == "24"
    assert calc.format_number(Fraction(1, 4)) == "0.25"
    assert calc.format_number(Fraction(-7, 2)) == "-3.5"
    assert calc.format_number(Fraction(1, 3)) is None
