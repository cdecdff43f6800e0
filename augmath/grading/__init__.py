"""augmath's one answer grader: the face every other stage imports.

    from augmath import grading
    grading.grade(gold, prediction, "gsm8k" | "math")  -> Verdict(extracted, correct)
    grading.grade_many(golds, predictions, kind, workers=None)
    grading.is_equiv(gold, prediction, kind) / grading.same_answer(a, b, kind) / grading.extract(text, kind)
    grading.last_boxed(text)   the content of the last \\boxed{} / \\fbox{} (nested braces)
    grading.Policy(...)        the policy questions (decimal commas, list order, named values, ...), passed as policy=

Inside: grader (the pair decision), extract (finding the final answer), normalize / numbers / fast / compound /
evaluator (the fast path), policy (the settings), symbolic + pool (math-verify in worker processes, hard
timeouts), boxed, cli.
"""

from augmath.grading.boxed import last_boxed
from augmath.grading.policy import Policy
from augmath.grading.grader import (
    DEFAULT_TIMEOUT,
    KINDS,
    Verdict,
    extract,
    grade,
    grade_many,
    is_equiv,
    same_answer,
)

__all__ = ["DEFAULT_TIMEOUT", "KINDS", "Policy", "Verdict", "extract", "grade", "grade_many", "is_equiv", "last_boxed",
           "same_answer"]
