"""`augmath experiment CONFIG.yaml [--plan]`: one file declares a whole study; this runs it end to end.

    augmath experiment configs/demo.yaml          # the README's main job (embedded SmolLM2-135M, offline)
    augmath experiment configs/demo.yaml --plan   # every stage, done or to do, and its size; runs nothing
    augmath experiment configs/paper_gsm8k.yaml   # the paper's grid (multi-GPU; documented, not run here)

A bad config is every problem at once, one line each (a ConfigError, printed by augmath.cli); a failing stage
is its name, exit status and the tail of its log, exit 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from augmath.experiment.config import ExperimentConfig, check_folders
from augmath.experiment.stages import StageError, is_done, resolve
from augmath.typed_yaml import given


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="experiment YAML (an example: configs/demo.yaml in the augmath repository)")
    p.add_argument("--plan", action="store_true", help="print the stages and their state, run nothing")


def run(args: argparse.Namespace) -> int:
    if args.plan:
        return show_plan(args.config)
    from augmath.experiment.runner import run_experiment

    try:
        run_experiment(args.config)
    except StageError as e:  # the stage's own log tail says why; the runner's traceback would not
        print(f"augmath experiment: {e}", file=sys.stderr)
        return 1
    return 0


def show_plan(config: str) -> int:
    """Runs on any machine: a missing data folder is a note here and an error only when running."""
    from augmath.experiment.planner import plan
    from augmath.experiment.sizes import stage_sizes

    cfg = ExperimentConfig.from_yaml(config, folders=False)
    stages = resolve(plan(cfg), Path(cfg.workdir) / "stages")
    sizes = stage_sizes(cfg, stages)
    dataset = {key: getattr(cfg.dataset, key) for key in given(cfg.dataset)}  # as the file gave it
    for note in check_folders({"data_dir": cfg.data_dir, "dataset": dataset}):
        print(f"note: {note} (needed to run, not to plan)")
    for st in stages:
        print(f"{'done' if is_done(st) else 'todo'}  {st.name:<34} {st.out}"
              + (f"\n      {sizes[st.name]}" if st.name in sizes else ""))
    return 0
