"""The `evaluate` wrapper around the grader loads from its package folder (metrics/ in the checkout), offline, and
scores like grade_many."""

from __future__ import annotations

import pytest

from augmath.metrics import ACCURACY

pytestmark = pytest.mark.slow  # `import evaluate` pulls in transformers pipelines: ~5 s idle, >30 s on a busy box

METRIC_DIR = ACCURACY


@pytest.fixture(scope="module")
def metric():
    import evaluate

    return evaluate.load(str(METRIC_DIR))


def test_gsm8k_accuracy(metric):
    preds = ["The answer is 18.", "#### 1,000", "The answer is 81.", "I am not sure."]
    refs = ["18", "Total... #### 1000", "18", "7"]
    assert metric.compute(predictions=preds, references=refs, kind="gsm8k") == {"accuracy": 0.5}


def test_math_accuracy_uses_symbolic_checks(metric):
    preds = ["so $\\boxed{\\dfrac12}$", "\\boxed{(x-1)(x+1)}", "\\boxed{0.0833}"]
    refs = ["0.5", "x^2-1", "\\frac{1}{12}"]
    result = metric.compute(predictions=preds, references=refs, kind="math")
    assert result["accuracy"] == pytest.approx(2 / 3)


def test_empty_and_bad_kind(metric):
    assert metric.compute(predictions=[], references=[], kind="math") == {"accuracy": 0.0}
    with pytest.raises(ValueError, match="kind"):
        metric.compute(predictions=["1"], references=["1"], kind="geometry")
