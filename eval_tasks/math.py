"""
name:
augmath MATH

dataset:
hendrycks MATH test split (5,000 competition problems, 7 subjects, levels 1-5); prepared locally by augmath.eval_data from augmath.sources records

abstract:
MATH (Hendrycks et al. 2021): competition mathematics; the answer is the last \\boxed{} expression.
In-domain for AugMATH.
Prompt: the training prompt (MuggleMath's Alpaca template), zero-shot by default (`augmath_math|N` for N-shot).
Gold: a LaTeX expression (compared with the project's equivalence checker). Metrics: augmath's grader as `acc`, and `maj@k` over sampled generations
(`augmath_math@k=8|0`).

languages:
english

tags:
math, reasoning, in-domain:math

paper:
https://arxiv.org/abs/2103.03874
"""

from lighteval.tasks.lighteval_task import LightevalTaskConfig
from lighteval.tasks.requests import Doc

from augmath.eval_data import generation_size, make_doc, task_folder
from augmath.eval_metric import task_metrics
from augmath.prompts import stop_sequences


def math_prompt(line: dict, task_name: str = None) -> Doc:
    """A prepared MATH row -> Doc(query=training prompt, gold=canonical answer, specific=id/kind/answer)."""
    return make_doc(line, task_name, kind="math")


augmath_math = LightevalTaskConfig(
    name="augmath_math",
    prompt_function=math_prompt,
    hf_repo=task_folder("math"),
    hf_subset="default",
    hf_avail_splits=["train", "test"],
    evaluation_splits=["test"],
    few_shots_split="train",
    few_shots_select="random_sampling_from_train",
    generation_size=generation_size(1024),
    stop_sequence=stop_sequences("alpaca"),
    metrics=task_metrics(),
    version=0,
)

TASKS_TABLE = [augmath_math]
