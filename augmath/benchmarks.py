"""The one registry of evaluation benchmarks: what each is, where its data and few-shot pool come from, how it
is graded, how long its answers may be, and the Hub dataset it is reported under.

Every stage reads it: the lighteval tasks (augmath.eval_tasks), the model card's model-index
(augmath.cards.model), the transfer matrix's column order (augmath.analysis.transfer).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Benchmark:
    name: str                     # what users type: --tasks gsm8k,math500
    task: str                     # the lighteval task name (never one of lighteval's built-ins)
    source: str                   # augmath.sources name
    split: str
    fewshot: tuple[str, str]      # (source, split) of the few-shot pool
    kind: str                     # grading kind: "gsm8k" (a number) or "math" (a \boxed{} expression)
    max_new_tokens: int           # the task's generation budget
    hub_id: str                   # the public dataset, for model-index metadata
    display: str                  # its name in cards and tables
    hub_split: str = "test"       # the split of hub_id that `split` corresponds to
    hub_config: str | None = "default"  # its config (None: MATH's test set is all 7 subject configs together)


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in [
        Benchmark("gsm8k", "augmath_gsm8k", "gsm8k", "test", ("gsm8k", "train"), "gsm8k", 512, "openai/gsm8k", "GSM8K",
                  hub_config="main"),
        Benchmark("math", "augmath_math", "math", "test", ("math", "train"), "math", 1024,
                  "EleutherAI/hendrycks_math", "MATH", hub_config=None),
        Benchmark("math500", "augmath_math500", "math500", "test", ("math", "train"), "math", 1024,
                  "HuggingFaceH4/MATH-500", "MATH-500"),
        # Test-only word-problem sets: their few-shot examples come from GSM8K train (same answer format).
        Benchmark("svamp", "augmath_svamp", "svamp", "test", ("gsm8k", "train"), "gsm8k", 512, "ChilleD/SVAMP", "SVAMP",
                  hub_split="train+test"),  # the 1,000 SVAMP problems are split 700/300 on the Hub
        Benchmark("asdiv", "augmath_asdiv", "asdiv", "test", ("gsm8k", "train"), "gsm8k", 512, "EleutherAI/asdiv",
                  "ASDiv", hub_split="validation", hub_config="asdiv"),
        Benchmark("mawps", "augmath_mawps", "mawps", "test", ("gsm8k", "train"), "gsm8k", 512, "MU-NLPC/Calc-mawps",
                  "MAWPS"),
    ]
}
TASK_TO_BENCHMARK = {b.task: b.name for b in BENCHMARKS.values()}


def benchmark(name: str) -> Benchmark:
    if name not in BENCHMARKS:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]
