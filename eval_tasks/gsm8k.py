"""
name:
augmath GSM8K

dataset:
openai/grade-school-math test split (1,319 grade-school word problems); prepared locally by augmath.eval_tasks.data from augmath.sources records

abstract:
GSM8K (Cobbe et al. 2021): multi-step grade-school arithmetic word problems with a numeric answer.
In-domain for AugGSM8K.
Prompt: the training prompt (MuggleMath's Alpaca template), zero-shot by default (`augmath_gsm8k|N` for N-shot).
Gold: a number (commas stripped, compared numerically). Metrics: augmath's grader as `acc`, and `maj@k` over sampled generations
(`augmath_gsm8k@k=8|0`).

Also `augmath_gsm8k_bpb`: bits per byte of the reference solution (+ eos) after the training prompt.

languages:
english

tags:
math, reasoning, in-domain:gsm8k

paper:
https://arxiv.org/abs/2110.14168
"""

from lighteval.tasks.requests import Doc

from augmath.eval_tasks import likelihood
from augmath.eval_tasks.data import make_doc, task_config


def gsm8k_prompt(line: dict, task_name: str = None) -> Doc:
    """A prepared GSM8K row -> Doc(query=training prompt, gold=canonical answer, specific=id/kind/answer)."""
    return make_doc(line, task_name, "gsm8k")


augmath_gsm8k = task_config("gsm8k", gsm8k_prompt)

# bits per byte of the reference solution (eval_tasks/likelihood.py): `augmath eval --tasks gsm8k_bpb`
augmath_gsm8k_bpb = likelihood.task_config("gsm8k")

TASKS_TABLE = [augmath_gsm8k, augmath_gsm8k_bpb]
