"""The one file through which `augmath eval` hands its settings to the lighteval process it starts.

`augmath eval` writes OUT/lighteval/settings.json and sets $AUGMATH_EVAL_SETTINGS to its path; the task
modules and the endpoint model read it. Every field is optional:

    tasks           {task: prepared data folder}        the tasks augmath.eval_tasks.TASKS_TABLE builds, on that
                                                        data (default: every benchmark, prepared on import)
    template        "alpaca" | "alpaca-input" | "chat"  the prompt template (default alpaca, as trained)
    profile         "lenient" | "paper"                 how answers are extracted (augmath.eval_tasks.profiles)
    max_new_tokens  int                                 overrides every task's generation size
    max_samples     {task: int}                         per-task numbers of items (`--max-samples gsm8k_bpb=24,...`;
                                                        data.sample_filter); a plain `--max-samples N` goes to
                                                        lighteval's own --max-samples instead
    eos_token       str                                 the model's end-of-sequence token, which the likelihood
                                                        tasks append to the reference (as training does)
    endpoint        {base_url, model, template, params, concurrency, timeout, log_path, base_url_env?}
                                                        the endpoint backend's settings (no API key: that stays
                                                        in $OPENAI_API_KEY, never in a file; a base_url with
                                                        credentials is written masked, and base_url_env names the
                                                        variable that holds the real one)
    scorer          "continuation" | "lighteval"        the transformers backend's likelihood loop
                                                        (augmath.eval_tasks.scorer; default continuation)

Without the variable (lighteval run by hand with `--custom-tasks augmath.eval_tasks`) the defaults apply.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from augmath.io import read_json_object, write_json_atomic

SETTINGS_ENV = "AUGMATH_EVAL_SETTINGS"
# Where augmath's code inside the lighteval child writes why it gave up (one line: an endpoint answering 401),
# so `augmath eval` reports that line instead of lighteval's traceback.
ERROR_FILE_ENV = "AUGMATH_EVAL_ERROR_FILE"


def child_failure(message: str) -> RuntimeError:
    """The error to raise inside the lighteval child; its message is also left where `augmath eval` reads it."""
    path = os.environ.get(ERROR_FILE_ENV)
    if path:
        Path(path).write_text(message, encoding="utf-8")
    return RuntimeError(message)
FIELDS = ("tasks", "template", "max_new_tokens", "max_samples", "eos_token", "endpoint", "profile", "scorer")


@lru_cache(maxsize=8)
def _read(path: str, stamp: tuple[int, int, int]) -> dict[str, Any]:
    settings = read_json_object(path)
    unknown = sorted(set(settings) - set(FIELDS))
    if unknown:
        raise ValueError(f"{path}: unknown setting(s) {unknown}; valid: {', '.join(FIELDS)}")
    return settings


def current() -> dict[str, Any]:
    """The settings file named by $AUGMATH_EVAL_SETTINGS ({} when unset). Re-read only when the file changes."""
    path = os.environ.get(SETTINGS_ENV)
    if not path:
        return {}
    try:
        st = os.stat(path)
    except OSError as e:
        raise FileNotFoundError(f"${SETTINGS_ENV}={path}: cannot read ({e.strerror})") from None
    # An atomic rewrite is a new inode, so a changed file never hits the cache even within one mtime tick.
    return _read(path, (st.st_ino, st.st_mtime_ns, st.st_size))


def write(path: str | os.PathLike, **settings: Any) -> Path:
    unknown = sorted(set(settings) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown setting(s) {unknown}; valid: {', '.join(FIELDS)}")
    write_json_atomic(path, {k: v for k, v in settings.items() if v is not None})
    return Path(path)
