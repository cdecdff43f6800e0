"""augmath's lighteval tasks, one module per benchmark, and everything `augmath eval` needs around them.

    lighteval accelerate MODEL "augmath_gsm8k|0" --custom-tasks augmath.eval_tasks       # every task
    lighteval accelerate MODEL "augmath_gsm8k|0" --custom-tasks augmath.eval_tasks.gsm8k # one task, one dataset
    augmath eval --model M --tasks gsm8k,math500,svamp --out RESULTS                    # what augmath runs

Task modules: gsm8k, math, math500, svamp, asdiv, mawps (the registry is augmath.evalsets); the first four
also hold a likelihood task (`augmath_gsm8k_bpb`: bits per byte of the reference solution, likelihood.py). Around them:
data (prepared dataset folders, the Doc every prompt builds, the one task config), metrics (the grader as
`acc` and `maj@k`), settings (the one file `augmath eval` hands to lighteval), endpoint_model (lighteval's
`custom` model for OpenAI-compatible servers), run (`augmath eval`), results (results.json + details),
compare (our grader against lighteval's own metrics).

TASKS_TABLE is built on first access, not on import, so importing any module of this package (the eval
driver, one task) never prepares data: it holds the tasks named in the settings file (`augmath eval`'s run),
else every benchmark, each prepared from $AUGMATH_DATA_DIR or the public Hub datasets.
"""

from __future__ import annotations

import importlib
from typing import Any


def _tasks_table() -> list:
    from augmath.evalsets import EVAL_TASKS, eval_task
    from augmath.eval_tasks import settings

    selected = list(settings.current().get("tasks") or EVAL_TASKS)
    wanted = {eval_task(name).task for name in selected}  # gsm8k -> augmath_gsm8k, gsm8k_bpb -> augmath_gsm8k_bpb
    modules = dict.fromkeys(eval_task(name).benchmark.name for name in selected)  # one module per benchmark
    return [config for module in modules
            for config in importlib.import_module(f"{__name__}.{module}").TASKS_TABLE if config.name in wanted]


def __getattr__(name: str) -> Any:
    if name == "TASKS_TABLE":
        table = _tasks_table()
        globals()["TASKS_TABLE"] = table
        return table
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
