"""The one registry of evaluation sets: what each benchmark is, where its data comes from, how it is graded.

Per benchmark: its data and few-shot pool, its grading, how long its answers may be, and the Hub dataset it is
reported under.

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


# ------------------------------------------------------------------------- likelihood (bits per byte) tasks
#
# `gsm8k_bpb` scores how likely the model finds the benchmark's reference solution (then end of sequence) after the
# training prompt: bits per byte, lower is better (augmath.eval_tasks.likelihood). Only benchmarks with a reference
# in a solution format have one: GSM8K and MATH ship worked solutions, SVAMP an equation (written out in GSM8K's
# format); ASDiv's formulas and MAWPS (answer only) do not.
LIKELIHOOD_SUFFIX = "_bpb"
REFERENCE_BENCHMARKS = ("gsm8k", "math", "math500", "svamp")
LIKELIHOOD_TASKS: dict[str, Benchmark] = {f"{name}{LIKELIHOOD_SUFFIX}": BENCHMARKS[name] for name in REFERENCE_BENCHMARKS}
EVAL_TASKS = [*BENCHMARKS, *LIKELIHOOD_TASKS]  # every name `augmath eval --tasks` accepts


@dataclass(frozen=True)
class EvalTask:
    name: str            # what users type: gsm8k, gsm8k_bpb
    benchmark: Benchmark
    metric: str          # "accuracy" (generation, graded) or "bpb" (likelihood of the reference solution)

    @property
    def task(self) -> str:
        """The lighteval task name: augmath_gsm8k, augmath_gsm8k_bpb."""
        return self.benchmark.task + (LIKELIHOOD_SUFFIX if self.metric == "bpb" else "")

    @property
    def likelihood(self) -> bool:
        return self.metric == "bpb"


def eval_task(name: str) -> EvalTask:
    """`gsm8k` (accuracy) or `gsm8k_bpb` (bits per byte); ValueError listing the valid names otherwise."""
    if name in BENCHMARKS:
        return EvalTask(name, BENCHMARKS[name], "accuracy")
    if name in LIKELIHOOD_TASKS:
        return EvalTask(name, LIKELIHOOD_TASKS[name], "bpb")
    if name.endswith(LIKELIHOOD_SUFFIX) and name.removesuffix(LIKELIHOOD_SUFFIX) in BENCHMARKS:
        raise ValueError(f"task {name!r}: {name.removesuffix(LIKELIHOOD_SUFFIX)} has no reference solution to score; "
                         f"likelihood tasks: {', '.join(LIKELIHOOD_TASKS)}")
    raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(EVAL_TASKS)}")


def benchmark_of(task: str) -> str:
    """The benchmark a task or results key scores: gsm8k_bpb -> gsm8k (unknown names are returned unchanged)."""
    return task.removesuffix(LIKELIHOOD_SUFFIX) if task in LIKELIHOOD_TASKS else task
