"""
name:
augmath MATH

dataset:
hendrycks MATH test split (5,000 competition problems, 7 subjects, levels 1-5); prepared locally by augmath.eval_tasks.data from augmath.sources records

abstract:
MATH (Hendrycks et al. 2021): competition mathematics; the answer is the last \\boxed{} expression.
In-domain for AugMATH.
Prompt: the training prompt (MuggleMath's Alpaca template), zero-shot by default (`augmath_math|N` for N-shot).
Gold: a LaTeX expression (compared with the project's equivalence checker). Metrics: augmath's grader as `acc`, and `maj@k` over sampled generations
(`augmath_math@k=8|0`).

Also `augmath_math_bpb`: bits per byte of the reference solution (+ eos) after the training prompt.

languages:
english

tags:
math, reasoning, in-domain:math

paper:
https://arxiv.org/abs/2103.03874
"""

from lighteval.tasks.requests import Doc

from augmath.eval_tasks import likelihood
from augmath.eval_tasks.data import make_doc, task_config


def math_prompt(line: dict, task_name: str = None) -> Doc:
    """A prepared MATH row -> Doc(query=training prompt, gold=canonical answer, specific=id/kind/answer)."""
    return make_doc(line, task_name, "math")


augmath_math = task_config("math", math_prompt)

# bits per byte of the reference solution (eval_tasks/likelihood.py): `augmath eval --tasks math_bpb`
augmath_math_bpb = likelihood.task_config("math")

TASKS_TABLE = [augmath_math, augmath_math_bpb]
