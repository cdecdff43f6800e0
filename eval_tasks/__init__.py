"""augmath's lighteval tasks, one module per benchmark, and everything `augmath eval` needs around them.

    lighteval accelerate MODEL "augmath_gsm8k|0" --custom-tasks augmath.eval_tasks       # every task
    lighteval accelerate MODEL "augmath_gsm8k|0" --custom-tasks augmath.eval_tasks.gsm8k # one task, one dataset
    augmath eval --model M --tasks gsm8k,math500,svamp --out RESULTS                    # what augmath runs

Task modules: gsm8k, math, math500, svamp, asdiv, mawps (the registry is augmath.benchmarks). Around them:
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
    from augmath.benchmarks import BENCHMARKS
    from augmath.eval_tasks import settings

    names = list(settings.current().get("tasks") or BENCHMARKS)
    return [config for name in names for config in importlib.import_module(f"{__name__}.{name}").TASKS_TABLE]


def __getattr__(name: str) -> Any:
    if name == "TASKS_TABLE":
        table = _tasks_table()
        globals()["TASKS_TABLE"] = table
        return table
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
