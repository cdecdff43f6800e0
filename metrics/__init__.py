"""augmath.metrics: `evaluate` metrics that wrap augmath's grader, shipped as package data.

    import evaluate
    from augmath.metrics import ACCURACY
    acc = evaluate.load(str(ACCURACY))                  # offline; or evaluate.load("metrics/augmath_accuracy")
    acc.compute(predictions=outputs, references=golds, kind="math")
"""

from pathlib import Path

ACCURACY = Path(__file__).resolve().parent / "augmath_accuracy"
