"""
name:
augmath SVAMP

dataset:
arkilpatel/SVAMP (1,000 one-step word problems with structural variations); prepared locally by augmath.eval_data from augmath.sources records

abstract:
SVAMP (Patel et al. 2021): simple word problems perturbed to defeat shallow heuristics.
Cross-domain transfer target for GSM8K-style training.
Prompt: the training prompt (MuggleMath's Alpaca template), zero-shot by default (`augmath_svamp|N` for N-shot).
Gold: a number (commas stripped, compared numerically). Metrics: augmath's grader as `acc`, and `maj@k` over sampled generations
(`augmath_svamp@k=8|0`).

languages:
english

tags:
math, reasoning, transfer

paper:
https://arxiv.org/abs/2103.07191
"""

from lighteval.tasks.lighteval_task import LightevalTaskConfig
from lighteval.tasks.requests import Doc

from augmath.eval_data import generation_size, make_doc, task_folder
from augmath.eval_metric import task_metrics
from augmath.prompts import stop_sequences


def svamp_prompt(line: dict, task_name: str = None) -> Doc:
    """A prepared SVAMP row -> Doc(query=training prompt, gold=canonical answer, specific=id/kind/answer)."""
    return make_doc(line, task_name, kind="gsm8k")


augmath_svamp = LightevalTaskConfig(
    name="augmath_svamp",
    prompt_function=svamp_prompt,
    hf_repo=task_folder("svamp"),
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

TASKS_TABLE = [augmath_svamp]
