"""
name:
augmath SVAMP

dataset:
arkilpatel/SVAMP (1,000 one-step word problems with structural variations); prepared locally by augmath.eval_tasks.data from augmath.sources records

abstract:
SVAMP (Patel et al. 2021): simple word problems perturbed to defeat shallow heuristics.
Cross-domain transfer target for GSM8K-style training.
Prompt: the training prompt (MuggleMath's Alpaca template), zero-shot by default (`augmath_svamp|N` for N-shot).
Gold: a number (commas stripped, compared numerically). Metrics: augmath's grader as `acc`, and `maj@k` over sampled generations
(`augmath_svamp@k=8|0`).

Also `augmath_svamp_bpb`: bits per byte of the reference solution (+ eos) after the training prompt.

languages:
english

tags:
math, reasoning, transfer

paper:
https://arxiv.org/abs/2103.07191
"""

from lighteval.tasks.requests import Doc

from augmath.eval_tasks import likelihood
from augmath.eval_tasks.data import make_doc, task_config


def svamp_prompt(line: dict, task_name: str = None) -> Doc:
    """A prepared SVAMP row -> Doc(query=training prompt, gold=canonical answer, specific=id/kind/answer)."""
    return make_doc(line, task_name, "svamp")


augmath_svamp = task_config("svamp", svamp_prompt)

# bits per byte of the reference solution (eval_tasks/likelihood.py): `augmath eval --tasks svamp_bpb`
augmath_svamp_bpb = likelihood.task_config("svamp")

TASKS_TABLE = [augmath_svamp, augmath_svamp_bpb]
