"""augmath_accuracy: accuracy of math answers under augmath's grader, as a Hugging Face `evaluate` metric.

    import evaluate
    acc = evaluate.load("metrics/augmath_accuracy")          # a local folder; works offline
    acc.compute(predictions=["The answer is 18."], references=["18"], kind="gsm8k")   # {"accuracy": 1.0}

`predictions` are model outputs (or bare answers); `references` are gold answers or full reference solutions.
kind="gsm8k" compares final numbers exactly; kind="math" compares LaTeX answers (the last \\boxed{}) with
augmath.grading.grader (canonical forms, exact rationals, math-verify in worker processes with a per-item timeout).
"""

# evaluate 0.4.6 scans this file's imports with a regex to check dependencies: one `import x` per line.
import datasets
import evaluate

from augmath import grading

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of str): model outputs or bare answers.
    references (list of str): gold answers or full reference solutions.
    kind (str): "math" (default) or "gsm8k".
    workers (int, optional): processes for symbolic checks (default: the machine's cores).
    timeout (float, optional): seconds per item for symbolic checks (default 10).
Returns:
    accuracy (float): the fraction of predictions judged equivalent to their reference (0.0 when empty).
"""


@evaluate.utils.file_utils.add_start_docstrings(__doc__, _KWARGS_DESCRIPTION)
class AugmathAccuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references, kind="math", workers=None, timeout=grading.DEFAULT_TIMEOUT):
        verdicts = grading.grade_many(references, predictions, kind, workers=workers, timeout=timeout)
        return {"accuracy": sum(v.correct for v in verdicts) / len(verdicts) if verdicts else 0.0}
