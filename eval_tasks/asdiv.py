"""
name:
augmath ASDiv

dataset:
chaochun/nlu-asdiv-dataset (2,305 diverse elementary word problems; CC BY-NC 4.0); prepared locally by augmath.eval_tasks.data from augmath.sources records

abstract:
ASDiv (Miao et al. 2020): academia-style diverse word problems, grades 1-6; the answer's unit is dropped.
Cross-domain transfer target.
Prompt: the training prompt (MuggleMath's Alpaca template), zero-shot by default (`augmath_asdiv|N` for N-shot).
Gold: a number (commas stripped, compared numerically). Metrics: augmath's grader as `acc`, and `maj@k` over sampled generations
(`augmath_asdiv@k=8|0`).

languages:
english

tags:
math, reasoning, transfer

paper:
https://arxiv.org/abs/2106.15772
"""

from lighteval.tasks.requests import Doc

from augmath.eval_tasks.data import make_doc, task_config


def asdiv_prompt(line: dict, task_name: str = None) -> Doc:
    """A prepared ASDiv row -> Doc(query=training prompt, gold=canonical answer, specific=id/kind/answer)."""
    return make_doc(line, task_name, "asdiv")


augmath_asdiv = task_config("asdiv", asdiv_prompt)

TASKS_TABLE = [augmath_asdiv]
