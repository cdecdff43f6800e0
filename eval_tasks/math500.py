"""
name:
augmath MATH-500

dataset:
the 500 MATH test problems of openai/prm800k's split (Lightman et al. 2023); prepared locally by augmath.eval_tasks.data from augmath.sources records

abstract:
MATH-500: the 500-problem MATH test subset of "Let's Verify Step by Step"; graded like MATH.
In-domain for AugMATH; a cheaper stand-in for the full MATH test.
Prompt: the training prompt (MuggleMath's Alpaca template), zero-shot by default (`augmath_math500|N` for N-shot).
Gold: a LaTeX expression (compared with the project's equivalence checker). Metrics: augmath's grader as `acc`, and `maj@k` over sampled generations
(`augmath_math500@k=8|0`).

Also `augmath_math500_bpb`: bits per byte of the reference solution (+ eos) after the training prompt.

languages:
english

tags:
math, reasoning, in-domain:math

paper:
https://arxiv.org/abs/2305.20050
"""

from lighteval.tasks.requests import Doc

from augmath.eval_tasks import likelihood
from augmath.eval_tasks.data import make_doc, task_config


def math500_prompt(line: dict, task_name: str = None) -> Doc:
    """A prepared MATH-500 row -> Doc(query=training prompt, gold=canonical answer, specific=id/kind/answer)."""
    return make_doc(line, task_name, "math500")


augmath_math500 = task_config("math500", math500_prompt)

# bits per byte of the reference solution (eval_tasks/likelihood.py): `augmath eval --tasks math500_bpb`
augmath_math500_bpb = likelihood.task_config("math500")

TASKS_TABLE = [augmath_math500, augmath_math500_bpb]
