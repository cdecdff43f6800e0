"""`augmath experiment CONFIG.yaml`: one file declares a whole study; this runs it end to end.

    augmath experiment configs/demo.yaml          # the README's main job (embedded SmolLM2-135M, offline)
    augmath experiment configs/paper_gsm8k.yaml   # the paper's grid (multi-GPU; documented, not run here)

Stages, each an ordinary `augmath` command (augmath/stages.py says how they are keyed and skipped):
  augment (per source) -> build -> base model -> train (per config x data amount) -> eval (per model)
  -> fit -> transfer -> report -> push (dry run unless push.dry_run is false)
Re-running the same command after a crash skips finished stages and resumes the one that was cut.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from augmath.io import write_json_atomic
from augmath.stages import Stage, is_done, resolve, run_stage
from augmath.training.config import resolve_file

LOCAL_BASES = ("embedded", "tiny")  # built by a stage; anything else is a model folder or Hub id


@dataclass
class ExperimentConfig:
    name: str
    workdir: str
    data_dir: str | None = None
    generator: dict[str, Any] = field(default_factory=dict)   # base_url / model; empty = the embedded server
    augment: list[dict[str, Any]] = field(default_factory=list)
    dataset: dict[str, Any] = field(default_factory=dict)     # name, version, seed
    base_models: list[str] = field(default_factory=lambda: ["embedded"])
    train: dict[str, Any] = field(default_factory=dict)       # recipe, runs: [{config, amounts}], overrides
    eval: dict[str, Any] = field(default_factory=dict)        # tasks, max_samples (N or {task: N}), include_base, args
    fit: dict[str, Any] = field(default_factory=dict)         # target_acc, target_bpb
    push: dict[str, Any] = field(default_factory=dict)        # org, dry_run

    @classmethod
    def from_yaml(cls, path: str | Path) -> "ExperimentConfig":
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"experiment config {path} not found")
        raw = yaml.safe_load(path.read_text()) or {}
        unknown = sorted(set(raw) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"{path}: unknown key(s) {unknown}; valid: {sorted(cls.__dataclass_fields__)}")
        for key in ("name", "workdir", "augment"):
            if not raw.get(key):
                raise ValueError(f"{path}: missing required key '{key}'")
        seen: dict[str, int] = {}
        for i, a in enumerate(raw["augment"]):
            if not a.get("source") or not a.get("strategies"):
                raise ValueError(f"{path}: augment[{i}] needs 'source' and 'strategies'")
            label = str(a.get("name", a["source"]))
            if label in seen:
                raise ValueError(f"{path}: augment[{i}] and augment[{seen[label]}] are both named {label!r}; "
                                 "give one a distinct 'name'")
            seen[label] = i
        if raw.get("train", {}).get("runs") and not raw["train"].get("recipe"):
            raise ValueError(f"{path}: train.recipe is required when train.runs is given")
        for i, run in enumerate(raw.get("train", {}).get("runs", [])):
            if "config" not in run or not run.get("amounts"):
                raise ValueError(f"{path}: train.runs[{i}] needs 'config' and a non-empty 'amounts' list")
        cfg = cls(**raw)
        if not Path(cfg.workdir).is_absolute():  # relative to the config file's project, not the caller's cwd
            cfg.workdir = str((Path.cwd() / cfg.workdir).resolve())
        return cfg


def _base_stage(spec: str) -> Stage:
    def make(out: Path, deps: dict[str, Path]) -> None:
        if spec == "embedded":
            from augmath.models import convert_embedded

            convert_embedded(out / "model")
        else:
            from augmath.tiny import make_tiny_llama

            make_tiny_llama(out / "model")
    return Stage(f"base-{spec}", "python", ["base-model", spec], func=make)


def plan(cfg: ExperimentConfig) -> list[Stage]:
    data = ["--data-dir", cfg.data_dir] if cfg.data_dir else []
    stages: list[Stage] = []
    for a in cfg.augment:
        name = f"augment-{a.get('name', a['source'])}"
        # The run folder is named after the stage: `augmath build` names each input run by its folder.
        argv = ["augment", "--source", a["source"], "--strategies", ",".join(a["strategies"]), "--out", f"{{out}}/{name}"]
        for key, value in a.items():
            if key not in ("source", "strategies", "name"):
                argv += [f"--{key.replace('_', '-')}"] + ([] if value is True else [str(value)])
        if cfg.generator.get("model"):
            argv += ["--model", cfg.generator["model"]]
        stages.append(Stage(name, "augment", argv + data))
    runs = [s.name for s in stages]
    ds = cfg.dataset
    stages.append(Stage("build", "build", ["build", *[f"{{dep:{r}}}/{r}" for r in runs], "--out", "{out}/dataset",
                                           "--name", str(ds.get("name", cfg.name)), "--version",
                                           str(ds.get("version", "0.1.0")), "--seed", str(ds.get("seed", 0))] + data,
                        deps=runs))
    tasks = ",".join(cfg.eval.get("tasks", ["gsm8k", "math500"]))
    eval_args = [str(x) for x in cfg.eval.get("args", [])]
    samples = cfg.eval.get("max_samples")
    if isinstance(samples, dict):  # per task: {gsm8k_bpb: 24, math500_bpb: 8}
        samples = ",".join(f"{task}={n}" for task, n in samples.items())
    if samples:
        eval_args += ["--max-samples", str(samples)]
    recipe = str(resolve_file("recipes", cfg.train["recipe"]).resolve()) if cfg.train.get("recipe") else ""
    evals, models = [], []
    for base in cfg.base_models:
        if base in LOCAL_BASES:
            stages.append(_base_stage(base))
            base_ref, base_deps = f"{{dep:base-{base}}}/model", [f"base-{base}"]
        else:
            base_ref, base_deps = base, []
        tag = Path(base).name
        trained = [(f"base-{tag}", base_ref, base_deps)] if cfg.eval.get("include_base", True) else []
        for run in cfg.train.get("runs", []):
            overrides = {**cfg.train.get("overrides", {}), **run.get("overrides", {})}
            for n in run["amounts"]:
                name = f"train-{tag}-{run['config']}-{n}"
                argv = ["train", recipe, "--model_name_or_path", base_ref, "--dataset", "{dep:build}/dataset",
                        "--dataset_config", run["config"], "--num_samples", str(n), "--output_dir", "{out}/model"]
                argv += [x for k, v in overrides.items() for x in (f"--{k}", str(v))]
                stages.append(Stage(name, "train", argv, deps=["build", *base_deps]))
                trained.append((name, f"{{dep:{name}}}/model", [name]))
                models.append(f"{{dep:{name}}}/model")
        for name, ref, deps in trained:
            stages.append(Stage(f"eval-{name}", "eval", ["eval", "--model", ref, "--tasks", tasks,
                                                         "--out", "{out}/results"] + eval_args + data, deps=deps))
            evals.append(f"eval-{name}")
    results = [f"{{dep:{e}}}/results" for e in evals]
    # The fit needs a data amount N per point; base models have none (they are the transfer matrix's first row).
    fitted = [e for e in evals if e.startswith("eval-train-")]
    fit_args = ["--target-acc", str(cfg.fit["target_acc"])] if cfg.fit.get("target_acc") else []
    fit_args += ["--target-bpb", str(cfg.fit["target_bpb"])] if cfg.fit.get("target_bpb") else []
    stages.append(Stage("fit", "fit", ["fit", *[f"{{dep:{e}}}/results" for e in fitted], "--out", "{out}/fit"]
                        + fit_args, deps=fitted, ok_codes=(0, 1)))  # 1 = a series could not be fitted: reported
    stages.append(Stage("transfer", "transfer", ["transfer", *results, "--out", "{out}/transfer"], deps=evals))
    train_stages = [s.name for s in stages if s.kind == "train"]

    def report(out: Path, deps: dict[str, Path]) -> None:
        from augmath.analysis import render_results_card, write_report
        from augmath.cards import save_card

        write_report(out / "report", [deps[e] / "results" for e in evals], fit_dir=deps["fit"] / "fit",
                     transfer_dir=deps["transfer"] / "transfer", run_dirs=[deps[r] / r for r in runs],
                     dataset_dir=deps["build"] / "dataset", model_dirs=[deps[t] / "model" for t in train_stages],
                     title=f"augmath experiment: {cfg.name}", html=True,
                     demo=True if "embedded" in cfg.base_models else None)  # the 135M model: plumbing only
        # The report folder is the results repository: every eval's results.json + details beside the report,
        # and one results.json index (which also marks the folder as a results folder for `augmath push`).
        index = {}
        for e in evals:
            shutil.copytree(deps[e] / "results", out / "report" / "results" / e, dirs_exist_ok=True)
            index[e] = json.loads((deps[e] / "results" / "results.json").read_text())
        write_json_atomic(out / "report" / "results.json", {"experiment": cfg.name, "results": index})
        save_card(render_results_card(out / "report"), out / "report")
    stages.append(Stage("report", "python", ["report", cfg.name], deps=["build", "fit", "transfer", *runs, *evals,
                                                                       *train_stages], func=report))
    org, dry = cfg.push.get("org", "augmath"), cfg.push.get("dry_run", True)
    pushes = [("build", "{dep:build}/dataset", f"{org}/{ds.get('name', cfg.name)}"),
              ("report", "{dep:report}/report", f"{org}/{cfg.name}-results")]
    pushes += [(t, f"{{dep:{t}}}/model", f"{org}/{cfg.name}-{t.removeprefix('train-')}") for t in train_stages]
    for dep, folder, repo_id in pushes:
        stages.append(Stage(f"push-{dep}", "push", ["push", folder, "--repo-id", repo_id] + (["--dry-run"] if dry else []),
                            deps=[dep]))
    return stages


@contextlib.contextmanager
def _generator(cfg: ExperimentConfig, stages: list[Stage]):
    """Start one embedded server for all augment stages still to run, unless the config names an endpoint."""
    pending = [s for s in stages if s.kind == "augment" and not is_done(s) and "--no-llm" not in s.argv]
    if cfg.generator.get("base_url"):
        for s in pending:
            s.volatile_argv = ["--base-url", cfg.generator["base_url"]]
        yield None
    elif not pending:
        yield None
    else:
        from augmath.engine import EmbeddedServer

        with EmbeddedServer() as server:
            print(f"   embedded server: {server.base_url} ({server.model})", flush=True)
            for s in pending:
                s.volatile_argv = ["--base-url", server.base_url]
            yield server


def run_experiment(config_path: str | Path, only: str | None = None) -> dict[str, Path]:
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)  # paths stay on one line (greppable, clickable)
    cfg = ExperimentConfig.from_yaml(config_path)
    workdir = Path(cfg.workdir)
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    stages = resolve(plan(cfg), workdir / "stages")
    by_name = {s.name: s for s in stages}
    console.print(f"[bold]augmath experiment[/] {cfg.name}: {len(stages)} stages in {workdir}")
    t_all = time.time()
    with _generator(cfg, stages):
        for i, st in enumerate(stages, 1):
            label = f"[{i:>2}/{len(stages)}] {st.name:<32}"
            if is_done(st):
                console.print(f"{label} [dim]done earlier, skipped[/]")
                continue
            console.print(f"{label} running ... (log: {workdir / 'logs' / (st.name + '.log')})")
            seconds = run_stage(st, by_name, workdir / "logs")
            console.print(f"{label} [green]done[/] in {seconds:.0f} s")
    console.print(f"\n[bold]finished in {time.time() - t_all:.0f} s[/]. Where everything is:")
    where = {"report": by_name["report"].out / "report" / "report.md",
             "dataset": by_name["build"].out / "dataset",
             "fit": by_name["fit"].out / "fit", "transfer": by_name["transfer"].out / "transfer",
             "logs": workdir / "logs"}
    where.update({s.name: s.out / "model" for s in stages if s.kind == "train"})
    where.update({s.name: s.out / "results" for s in stages if s.kind == "eval"})
    for k, v in where.items():
        console.print(f"  {k:<34} {v}")
    return where


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="experiment YAML (see configs/demo.yaml)")
    p.add_argument("--plan", action="store_true", help="print the stages and their state, run nothing")


def run(args: argparse.Namespace) -> int:
    if args.plan:
        cfg = ExperimentConfig.from_yaml(args.config)
        for st in resolve(plan(cfg), Path(cfg.workdir) / "stages"):
            print(f"{'done' if is_done(st) else 'todo'}  {st.name:<34} {st.out}")
        return 0
    run_experiment(args.config)
    return 0
