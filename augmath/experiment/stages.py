"""Content-addressed, resumable stages for the experiment runner.

A stage is one `augmath <command> ...` subprocess (the same commands a user runs by hand) plus the stages it
reads from. Its key hashes the command line (with upstream outputs replaced by *their* keys), so:
  - a finished stage is skipped on re-run (its `.stage.json` marker exists and matches);
  - a changed setting, or a changed upstream stage, gives a new key and a new output folder;
  - a stage killed half-way has no marker and is run again into the same folder, where the command itself
    resumes (the engine's request log, training's checkpoints) or rewrites atomically.
Output folders are named `<name>-<key[:10]>` under the experiment's work dir.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from augmath.io import write_json_atomic
from augmath.process import die_with_parent
from augmath.redaction import redact

MARKER = ".stage.json"


class StageError(RuntimeError):
    """A stage's command failed; the message names it, its exit status and the tail of its log."""


@dataclass
class Stage:
    name: str                      # unique within an experiment, e.g. "train-gsm8k-64"
    kind: str                      # augment | build | train | eval | fit | transfer | push | python
    argv: list[str]                # arguments after `augmath`, with "{out}" and "{dep:NAME}" placeholders
    deps: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)   # non-secret extra environment (hashed)
    volatile_argv: list[str] = field(default_factory=list)  # not hashed (e.g. this run's server URL)
    volatile_env: dict[str, str] = field(default_factory=dict)  # not hashed (e.g. the warm lighteval's socket)
    func: Callable[[Path, dict[str, Path]], None] | None = None  # kind == "python": in-process step
    code_of: tuple[Callable, ...] = ()  # functions `func` hands its work to: their code is keyed too
    ok_codes: tuple[int, ...] = (0,)  # exit statuses that count as success
    key: str = ""
    out: Path | None = None


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def resolve(stages: list[Stage], workdir: Path) -> list[Stage]:
    """Assign keys and output folders in dependency order (stages must be listed after their deps)."""
    by_name: dict[str, Stage] = {}
    for st in stages:
        missing = [d for d in st.deps if d not in by_name]
        if missing:
            raise ValueError(f"stage {st.name!r} depends on {missing}, which are not defined before it")
        # An in-process step is keyed on its code too, so editing it re-runs the stage.
        code = inspect.getsource(st.func) if st.func is not None else None
        keyed = {"kind": st.kind, "argv": st.argv, "env": st.env, "code": code,
                 "deps": {d: by_name[d].key for d in st.deps}}
        if st.code_of:  # only where given, so the keys of every other stage stay what they were
            keyed["code_of"] = [inspect.getsource(f) for f in st.code_of]
        st.key = _digest(keyed)
        st.out = workdir / f"{st.name}-{st.key[:10]}"
        by_name[st.name] = st
    return stages


def is_done(st: Stage) -> bool:
    marker = st.out / MARKER
    if not marker.exists():
        return False
    try:
        return json.loads(marker.read_text()).get("key") == st.key
    except (OSError, json.JSONDecodeError):
        return False


def expand(st: Stage, by_name: dict[str, Stage]) -> list[str]:
    out = []
    for a in st.argv:
        a = a.replace("{out}", str(st.out))
        for d in st.deps:
            a = a.replace("{dep:%s}" % d, str(by_name[d].out))
        out.append(a)
    return out


def run_stage(st: Stage, by_name: dict[str, Stage], log_dir: Path) -> float:
    """Run one stage to completion; raise with the log's tail on failure. Returns seconds taken."""
    st.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    if st.kind == "python":
        st.func(st.out, {d: by_name[d].out for d in st.deps})
    else:
        argv = [sys.executable, "-m", "augmath.cli", *expand(st, by_name), *st.volatile_argv]
        log_path = log_dir / f"{st.name}.log"
        env = {**os.environ, **st.env, **st.volatile_env}
        with open(log_path, "a", encoding="utf-8") as log:
            # Keys come from the environment, never argv; a URL's credentials are masked.
            log.write(f"\n$ augmath {redact(' '.join(argv[3:]))}\n")
            log.flush()
            # The stage dies with the runner: a kill -9 of `augmath experiment` leaves no stage running on.
            proc = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=die_with_parent)
        if proc.returncode not in st.ok_codes:
            tail = "".join(log_path.read_text(encoding="utf-8", errors="replace").splitlines(True)[-25:])
            raise StageError(f"stage {st.name} failed (exit {proc.returncode}); log {log_path}:\n{redact(tail)}")
    seconds = time.time() - t0
    write_json_atomic(st.out / MARKER, {"key": st.key, "name": st.name, "kind": st.kind,
                                        "argv": st.argv, "seconds": round(seconds, 2)})
    return seconds


def stage_timings(folders: dict[str, Path]) -> list[dict]:
    """{stage, kind, seconds} of each finished stage (name -> output folder), from its marker: the wall-clock
    `run_stage` measured when the stage ran, also when a later run skipped it."""
    rows = []
    for name, folder in folders.items():
        try:
            marker = json.loads((Path(folder) / MARKER).read_text())
        except (OSError, json.JSONDecodeError):
            continue
        rows.append({"stage": name, "kind": marker.get("kind"), "seconds": marker.get("seconds", 0.0)})
    return rows
