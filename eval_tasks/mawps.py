"""
name:
augmath MAWPS

dataset:
the ToRA/Qwen2.5-Math MAWPS evaluation file (AddSub, MultiArith, SingleEq, SingleOp: 2,065 problems); prepared locally by augmath.eval_data from augmath.sources records

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

from lighteval.tasks.lighteval_task import LightevalTaskConfig
from lighteval.tasks.requests import Doc

from augmath.eval_data import generation_size, make_doc, task_folder
from augmath.eval_metric import task_metrics
from augmath.prompts import stop_sequences


def mawps_prompt(line: dict, task_name: str = None) -> Doc:
    """A prepared MAWPS row -> Doc(query=training prompt, gold=canonical answer, specific=id/kind/answer)."""
    return make_doc(line, task_name, kind="gsm8k")


augmath_mawps = LightevalTaskConfig(
    name="augmath_mawps",
    prompt_function=mawps_prompt,
    hf_repo=task_folder("mawps"),
    hf_subset="default",
    hf_avail_splits=["train", "test"],
    evaluation_splits=["test"],
    few_shots_split="train",
    few_shots_select="random_sampling_from_train",
    generation_size=generation_size(512),
    stop_sequence=stop_sequences("alpaca"),
    metrics=task_metrics(),
    version=0,
)

TASKS_TABLE = [augmath_mawps]
