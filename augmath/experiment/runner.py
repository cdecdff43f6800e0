"""Running an experiment's plan: the work dir's lock, the embedded server, every stage not done yet.

`run_experiment(CONFIG)` takes the work dir's lock, starts the embedded server if an augment
stage needs one, runs every stage not done yet in order, and writes `timings.json`.

Re-running the same command after a crash skips finished stages and resumes the one that was cut; each push
stage keeps what it sends in its folder (push.json, repo/).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from augmath.experiment.config import ExperimentConfig
from augmath.experiment.planner import ROLES, plan
from augmath.experiment.stages import Stage, is_done, resolve, run_stage, stage_timings
from augmath.io import folder_lock, write_json_atomic


def _endpoint_argv(cfg: ExperimentConfig, server_url: str | None) -> list[str]:
    """The augment stages' endpoint flags (not hashed: a server's port changes from run to run). A role with
    no URL of its own uses generator.base_url, else the embedded server."""
    def joined(url):  # a YAML list of endpoints -> augment's comma-separated --base-url
        return ",".join(url) if isinstance(url, list) else url

    shared = joined(cfg.generator.base_url) or server_url
    argv = ["--base-url", shared] if shared else []
    for role in ROLES:
        if cfg.role(role).base_url:
            argv += [f"--{role}-base-url", joined(cfg.role(role).base_url)]
    return argv


@contextlib.contextmanager
def _generator(cfg: ExperimentConfig, stages: list[Stage]):
    """Start one embedded server for all augment stages still to run, unless every role has an endpoint."""
    pending = [s for s in stages if s.kind == "augment" and not is_done(s) and "--no-llm" not in s.argv]
    served = cfg.generator.base_url or all(cfg.role(role).base_url for role in ROLES)
    if served or not pending:
        for s in pending:
            s.volatile_argv = _endpoint_argv(cfg, None)
        yield None
    else:
        from augmath.engine import EmbeddedServer

        with EmbeddedServer() as server:
            print(f"   embedded server: {server.base_url} ({server.model})", flush=True)
            for s in pending:
                s.volatile_argv = _endpoint_argv(cfg, server.base_url)
            yield server


@contextlib.contextmanager
def _warm_lighteval(stages: list[Stage], workdir: Path):
    """One warm lighteval (augmath.eval_tasks.warm) for the evaluations still to run on lighteval's transformers
    backend: each forks from it instead of importing lighteval again (~8 s a model)."""
    def backend(argv: list[str]) -> str:
        return argv[argv.index("--backend") + 1] if "--backend" in argv[:-1] else "accelerate"

    pending = [s for s in stages if s.kind == "eval" and not is_done(s) and backend(s.argv) == "accelerate"]
    if len(pending) < 2:  # one evaluation gains nothing from a server it has to start itself
        yield None
        return
    from augmath.eval_tasks.warm import WarmServer

    with WarmServer(workdir / "logs" / "warm-lighteval.log") as server:
        for s in pending:
            s.volatile_env = server.env()
        yield server


def run_experiment(config_path: str | Path, only: str | None = None) -> dict[str, Path]:
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)  # paths stay on one line (greppable, clickable)
    cfg = ExperimentConfig.from_yaml(config_path)
    workdir = Path(cfg.workdir)
    with folder_lock(workdir, "augmath experiment"):  # one runner per work dir; its stages lock their own folders
        return _run_stages(cfg, workdir, console)


def _run_stages(cfg: ExperimentConfig, workdir: Path, console) -> dict[str, Path]:
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    stages = resolve(plan(cfg), workdir / "stages")
    by_name = {s.name: s for s in stages}
    console.print(f"[bold]augmath experiment[/] {cfg.name}: {len(stages)} stages in {workdir}")
    t_all, ran = time.time(), []
    with _generator(cfg, stages), _warm_lighteval(stages, workdir):
        for i, st in enumerate(stages, 1):
            label = f"[{i:>2}/{len(stages)}] {st.name:<32}"
            if is_done(st):
                console.print(f"{label} [dim]done earlier, skipped[/]")
                continue
            console.print(f"{label} running ... (log: {workdir / 'logs' / (st.name + '.log')})")
            seconds = run_stage(st, by_name, workdir / "logs")
            ran.append(st.name)
            console.print(f"{label} [green]done[/] in {seconds:.0f} s")
    total = time.time() - t_all
    write_json_atomic(workdir / "timings.json", {  # every stage, pushes included; the report has those before it
        "experiment": cfg.name, "wall_seconds": round(total, 2), "ran_now": ran,
        "stages": stage_timings({s.name: s.out for s in stages})})
    console.print(f"\n[bold]finished in {total:.0f} s[/]. Where everything is:")
    where = {"report": by_name["report"].out / "report" / "report.md",
             "dataset": by_name["build"].out / "dataset",
             "fit": by_name["fit"].out / "fit", "transfer": by_name["transfer"].out / "transfer",
             "logs": workdir / "logs"}
    where.update({s.name: s.out / "model" for s in stages if s.kind == "train"})
    where.update({s.name: s.out / "results" for s in stages if s.kind == "eval"})
    for k, v in where.items():
        console.print(f"  {k:<34} {v}")
    return where
