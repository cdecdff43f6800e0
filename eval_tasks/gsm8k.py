"""
name:
augmath GSM8K

dataset:
openai/grade-school-math test split (1,319 grade-school word problems); prepared locally by augmath.eval_data from augmath.sources records

abstract:
GSM8K (Cobbe et al. 2021): multi-step grade-school arithmetic word problems with a numeric answer.
In-domain for AugGSM8K.
Prompt: the training prompt (MuggleMath's Alpaca template), zero-shot by default (`augmath_gsm8k|N` for N-shot).
Gold: a number (commas stripped, compared numerically). Metrics: augmath's grader as `acc`, and `maj@k` over sampled generations
(`augmath_gsm8k@k=8|0`).

languages:
english

tags:
math, reasoning, in-domain:gsm8k

paper:
https://arxiv.org/abs/2110.14168
"""

from lighteval.tasks.lighteval_task import LightevalTaskConfig
from lighteval.tasks.requests import Doc

from augmath.eval_data import generation_size, make_doc, task_folder
from augmath.eval_metric import task_metrics
from augmath.prompts import stop_sequences


def gsm8k_prompt(line: dict, task_name: str = None) -> Doc:
    """A prepared GSM8K row -> Doc(query=training prompt, gold=canonical answer, specific=id/kind/answer)."""
    return make_doc(line, task_name, kind="gsm8k")


augmath_gsm8k = LightevalTaskConfig(
    name="augmath_gsm8k",
    prompt_function=gsm8k_prompt,
    hf_repo=task_folder("gsm8k"),
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

TASKS_TABLE = [augmath_gsm8k]
