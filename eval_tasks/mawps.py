"""
name:
augmath MAWPS

dataset:
the ToRA/Qwen2.5-Math MAWPS evaluation file (AddSub, MultiArith, SingleEq, SingleOp: 2,065 problems); prepared locally by augmath.eval_tasks.data from augmath.sources records

abstract:
MAWPS (Koncel-Kedziorski et al. 2016): four classic arithmetic word-problem subsets.
Cross-domain transfer target.
Prompt: the training prompt (MuggleMath's Alpaca template), zero-shot by default (`augmath_mawps|N` for N-shot).
Gold: a number (commas stripped, compared numerically). Metrics: augmath's grader as `acc`, and `maj@k` over sampled generations
(`augmath_mawps@k=8|0`).

languages:
english

tags:
math, reasoning, transfer

paper:
https://aclanthology.org/N16-1136
"""

from lighteval.tasks.requests import Doc

from augmath.eval_tasks.data import make_doc, task_config


def mawps_prompt(line: dict, task_name: str = None) -> Doc:
    """A prepared MAWPS row -> Doc(query=training prompt, gold=canonical answer, specific=id/kind/answer)."""
    return make_doc(line, task_name, "mawps")


augmath_mawps = task_config("mawps", mawps_prompt)

TASKS_TABLE = [augmath_mawps]
