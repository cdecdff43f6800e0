"""
name:
augmath MATH-500

dataset:
the 500 MATH test problems of openai/prm800k's split (Lightman et al. 2023); prepared locally by augmath.eval_data from augmath.sources records

abstract:
MATH-500: the 500-problem MATH test subset of "Let's Verify Step by Step"; graded like MATH.
In-domain for AugMATH; a cheaper stand-in for the full MATH test.
Prompt: the training prompt (MuggleMath's Alpaca template), zero-shot by default (`augmath_math500|N` for N-shot).
Gold: a LaTeX expression (compared with the project's equivalence checker). Metrics: augmath's grader as `acc`, and `maj@k` over sampled generations
(`augmath_math500@k=8|0`).

languages:
english

tags:
math, reasoning, in-domain:math

paper:
https://arxiv.org/abs/2305.20050
"""

from lighteval.tasks.lighteval_task import LightevalTaskConfig
from lighteval.tasks.requests import Doc

from augmath.eval_data import generation_size, make_doc, task_folder
from augmath.eval_metric import task_metrics
from augmath.prompts import stop_sequences


def math500_prompt(line: dict, task_name: str = None) -> Doc:
    """A prepared MATH-500 row -> Doc(query=training prompt, gold=canonical answer, specific=id/kind/answer)."""
    return make_doc(line, task_name, kind="math")


augmath_math500 = LightevalTaskConfig(
    name="augmath_math500",
    prompt_function=math500_prompt,
    hf_repo=task_folder("math500"),
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

TASKS_TABLE = [augmath_math500]
