"""`augmath experiment CONFIG.yaml`: one file declares a whole study; this runs it end to end.

    augmath experiment configs/demo.yaml          # the README's main job (embedded SmolLM2-135M, offline)
    augmath experiment configs/paper_gsm8k.yaml   # the paper's grid (multi-GPU; documented, not run here)

Stages, each an ordinary `augmath` command (augmath/stages.py says how they are keyed and skipped):
  augment (per source) -> build -> base model -> train (per config x data amount) -> eval (per model)
  -> fit -> transfer -> report -> push (dry run unless push.dry_run is false)
Re-running the same command after a crash skips finished stages and resumes the one that was cut.
Every artifact's Hub repo id is fixed by the config before anything runs (`hub_repos`), so each card names the
others as they will be on the Hub; each push stage keeps what it sends in its folder (push.json, repo/).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augmath.experiment_schema import (ConfigError, DatasetSection, EvalSection, FitSection, GeneratorSection,
                                       PushSection, TrainSection, augment_entry, check_config, check_folders,
                                       check_meaning)
from augmath.io import DataError, folder_lock, read_yaml, write_json_atomic
from augmath.prebuilt import prebuilt_stage
from augmath.stages import Stage, StageError, is_done, resolve, run_stage, stage_timings
from augmath.train_plan import train_runs
from augmath.training.config import resolve_file

LOCAL_BASES = ("embedded", "tiny")  # built by a stage; anything else is a model folder or Hub id
ROLES = ("query", "response")  # generator roles: who writes the queries, who samples the paths


@dataclass
class ExperimentConfig:
    """The YAML's top level. Each section's keys are declared by the dataclass in its `schema` metadata
    (augmath/experiment_schema.py) and checked, with every other key, before anything starts."""

    name: str
    workdir: str
    description: str | None = None  # shown under the report's title: what the study is and is not
    data_dir: str | None = None
    # base_url / model for both roles, and optionally query: {base_url, model} / response: {base_url, model}
    # overriding them per role (augmath.augment.endpoints); no URL at all = the embedded server
    generator: dict[str, Any] = field(default_factory=dict, metadata={"schema": GeneratorSection})
    augment: list[dict[str, Any]] = field(default_factory=list, metadata={"schema": lambda: list[augment_entry()]})
    dataset: dict[str, Any] = field(default_factory=dict, metadata={"schema": DatasetSection})
    base_models: list[str] = field(default_factory=lambda: ["embedded"])
    train: dict[str, Any] = field(default_factory=dict, metadata={"schema": TrainSection})
    eval: dict[str, Any] = field(default_factory=dict, metadata={"schema": EvalSection})
    fit: dict[str, Any] = field(default_factory=dict, metadata={"schema": FitSection})
    push: dict[str, Any] = field(default_factory=dict, metadata={"schema": PushSection})

    @classmethod
    def from_yaml(cls, path: str | Path, folders: bool = True) -> "ExperimentConfig":
        """Read and check the whole file; every problem at once, one line each naming the key (ConfigError).
        folders=False leaves out the folders that must exist only to run it (`--plan` shows them as notes)."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"experiment config {path} not found")
        try:
            raw = read_yaml(path)
        except DataError as e:  # broken YAML, not UTF-8
            raise ConfigError([str(e)]) from None
        raw = {} if raw is None else raw
        problems = check_config(cls, raw) + (check_meaning(raw) if isinstance(raw, dict) else [])
        problems += check_folders(raw) if folders and isinstance(raw, dict) else []
        if problems:
            raise ConfigError([f"{path}: {p}" for p in problems])
        cfg = cls(**raw)
        if not Path(cfg.workdir).is_absolute():  # relative to the config file's project, not the caller's cwd
            cfg.workdir = str((Path.cwd() / cfg.workdir).resolve())
        return cfg


def _role(cfg: "ExperimentConfig", role: str) -> dict:
    return cfg.generator.get(role) or {}


def _base_stage(spec: str) -> Stage:
    def make(out: Path, deps: dict[str, Path]) -> None:
        if spec == "embedded":
            from augmath.models import convert_embedded

            convert_embedded(out / "model")
        else:
            from augmath.tiny import make_tiny_llama

            make_tiny_llama(out / "model")
    return Stage(f"base-{spec}", "python", ["base-model", spec], func=make)


def _override_text(value: Any) -> str:
    """A recipe override as `augmath train` reads it back (YAML): plain text where that round-trips (so stage keys
    stay as they were), JSON where it would not (null read as 'None', the string 'no' read as false)."""
    import yaml

    return str(value) if yaml.safe_load(str(value)) == value else json.dumps(value)


def hub_repos(cfg: ExperimentConfig) -> dict[str, str]:
    """Where everything is pushed (push.org): the dataset, the results, and one model repo per train stage
    (looked up by stage name with `model_repo`)."""
    org = cfg.push.get("org", "augmath")
    return {"org": org, "dataset": f"{org}/{cfg.dataset.get('name', cfg.name)}", "results": f"{org}/{cfg.name}-results"}


def model_repo(cfg: ExperimentConfig, train_stage: str) -> str:
    """The Hub repo of a train stage's model. Stage labels may hold characters a repo name may not (`+` of a
    mixture or a round selection: `train-tiny-gsm8k-original+gsm8k-4`); each run of them becomes one `-`."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{cfg.name}-{train_stage.removeprefix('train-')}")
    return f"{hub_repos(cfg)['org']}/{name}"


def plan(cfg: ExperimentConfig) -> list[Stage]:
    data = ["--data-dir", cfg.data_dir] if cfg.data_dir else []
    repos = hub_repos(cfg)
    stages: list[Stage] = []
    for a in cfg.augment:
        name = f"augment-{a.get('name', a['source'])}"
        # The run folder is named after the stage: `augmath build` names each input run by its folder.
        argv = ["augment", "--source", a["source"], "--strategies", ",".join(a["strategies"]), "--out", f"{{out}}/{name}"]
        for key, value in a.items():
            if key not in ("source", "strategies", "name") and value is not None and value is not False:
                argv += [f"--{key.replace('_', '-')}"] + ([] if value is True else [str(value)])
        if cfg.generator.get("model") and "model" not in a:  # a run's own model (e.g. a later round's) wins
            argv += ["--model", cfg.generator["model"]]
        argv += [x for role in ROLES if _role(cfg, role).get("model") and f"{role}_model" not in a
                 for x in (f"--{role}-model", _role(cfg, role)["model"])]
        stages.append(Stage(name, "augment", argv + data))
    runs = [s.name for s in stages]
    ds = cfg.dataset
    if ds.get("path"):  # built beforehand (augmath/prebuilt.py); later stages read it as the build's output
        stages.append(prebuilt_stage(ds["path"]))
    else:
        stages.append(Stage("build", "build", ["build", *[f"{{dep:{r}}}/{r}" for r in runs], "--out", "{out}/dataset",
                                               "--name", str(ds.get("name", cfg.name)), "--version",
                                               str(ds.get("version", "0.1.0")), "--seed", str(ds.get("seed", 0)),
                                               "--repo-id", repos["dataset"]] + data
                            + (["--paths-per-query", str(ds["paths_per_query"])] if ds.get("paths_per_query") else []),
                            deps=runs))
    tasks = ",".join(cfg.eval.get("tasks", ["gsm8k", "math500"]))
    eval_args = [str(x) for x in cfg.eval.get("args", [])]
    # The first profile's scores feed the fit, the transfer matrix and the report; the others are extra eval
    # stages whose results.json (which names its profile) go into the report folder beside them.
    profiles = cfg.eval.get("profiles", ["lenient"])
    extra_evals: list[str] = []
    samples = cfg.eval.get("max_samples")
    if isinstance(samples, dict):  # per task: {gsm8k_bpb: 24, math500_bpb: 8}
        samples = ",".join(f"{task}={n}" for task, n in samples.items())
    if samples:
        eval_args += ["--max-samples", str(samples)]
    recipe = str(resolve_file("recipes", cfg.train["recipe"]).resolve()) if cfg.train.get("recipe") else ""
    evals, models = [], []
    evals_of: dict[str, list[str]] = {}  # model stage -> its eval stages, one per profile
    for base in cfg.base_models:
        if base in LOCAL_BASES:
            stages.append(_base_stage(base))
            base_ref, base_deps = f"{{dep:base-{base}}}/model", [f"base-{base}"]
        else:
            base_ref, base_deps = base, []
        tag = Path(base).name
        trained = [(f"base-{tag}", base_ref, base_deps)] if cfg.eval.get("include_base", True) else []
        for run in train_runs(cfg.train, cfg.name):
            overrides = {**cfg.train.get("overrides", {}), **run.overrides}
            for label, data_argv in run.jobs():
                name = f"train-{tag}-{label}"
                argv = ["train", recipe, "--model_name_or_path", base_ref, "--dataset", "{dep:build}/dataset",
                        *data_argv, "--output_dir", "{out}/model", "--hub_model_id", model_repo(cfg, name)]
                argv += [x for k, v in overrides.items() for x in (f"--{k}", _override_text(v))]
                stages.append(Stage(name, "train", argv, deps=["build", *base_deps]))
                trained.append((name, f"{{dep:{name}}}/model", [name]))
                models.append(f"{{dep:{name}}}/model")
        for name, ref, deps in trained:
            for i, profile in enumerate(profiles):
                stage = f"eval-{name}" if i == 0 else f"eval-{name}-{profile}"
                chosen = [] if profile == "lenient" else ["--profile", profile]
                stages.append(Stage(stage, "eval", ["eval", "--model", ref, "--tasks", tasks, "--out",
                                                    "{out}/results"] + eval_args + chosen + data, deps=deps))
                (evals if i == 0 else extra_evals).append(stage)
                evals_of.setdefault(name, []).append(stage)
    results = [f"{{dep:{e}}}/results" for e in evals]
    # The fit needs a data amount N per point; base models have none (they are the transfer matrix's first row).
    fitted = [e for e in evals if e.startswith("eval-train-")]
    fit_args = ["--target-acc", str(cfg.fit["target_acc"])] if cfg.fit.get("target_acc") else []
    fit_args += ["--target-bpb", str(cfg.fit["target_bpb"])] if cfg.fit.get("target_bpb") else []
    stages.append(Stage("fit", "fit", ["fit", *[f"{{dep:{e}}}/results" for e in fitted], "--out", "{out}/fit"]
                        + fit_args, deps=fitted, ok_codes=(0, 1)))  # 1 = a series could not be fitted: reported
    stages.append(Stage("transfer", "transfer", ["transfer", *results, "--out", "{out}/transfer"], deps=evals))
    train_stages = [s.name for s in stages if s.kind == "train"]
    repo_of: dict[str, str] = {}
    for t in train_stages:  # two stages whose labels differ only in characters a repo name cannot hold
        if repo_of.setdefault(model_repo(cfg, t), t) != t:
            raise ValueError(f"train stages {repo_of[model_repo(cfg, t)]} and {t} would push to the same repo "
                             f"{model_repo(cfg, t)}; give one of their train.runs a distinct 'name'")

    base_stages = [s.name for s in stages if s.kind == "python" and s.name.startswith("base-")]

    def report(out: Path, deps: dict[str, Path]) -> None:
        from augmath.analysis import render_results_card, write_report
        from augmath.cards import save_card
        from augmath.models import EMBEDDED_SOURCE

        # The report folder is the results repository: every eval's results.json + details beside the report,
        # and one results.json index (which also marks the folder as a results folder for `augmath push`).
        index = {}
        for e in evals + extra_evals:
            shutil.copytree(deps[e] / "results", out / "report" / "results" / e, dirs_exist_ok=True)
            index[e] = json.loads((deps[e] / "results" / "results.json").read_text())
        # What each local folder is on the Hub, so the report and its card name nothing by a local path.
        published = {deps["build"] / "dataset": f"{repos['dataset']}@v{ds.get('version', '0.1.0')}",
                     **{deps[t] / "model": model_repo(cfg, t) for t in train_stages},
                     **{deps[b] / "model": EMBEDDED_SOURCE if b == "base-embedded" else "augmath.tiny random Llama"
                        for b in base_stages}}
        write_report(out / "report", [out / "report" / "results" / e for e in evals], fit_dir=deps["fit"] / "fit",
                     transfer_dir=deps["transfer"] / "transfer", run_dirs=[deps[r] / r for r in runs],
                     dataset_dir=deps["build"] / "dataset", model_dirs=[deps[t] / "model" for t in train_stages],
                     title=f"augmath experiment: {cfg.name}", html=True, published=published,
                     # the 135M model on a few items per task is plumbing; on the full test sets it is a
                     # measurement of that model (whose limits the config's description states)
                     demo=bool(cfg.eval.get("max_samples")) if "embedded" in cfg.base_models else None,
                     timings=stage_timings({d: deps[d] for d in [*runs, "build", *base_stages, *train_stages,
                                                                 *evals, *extra_evals, "fit", "transfer"]}),
                     description=cfg.description)
        models = {e: model_repo(cfg, e.removeprefix("eval-")) for e in evals if e.startswith("eval-train-")}
        write_json_atomic(out / "report" / "results.json", {
            "experiment": cfg.name, "published": {"dataset": published[deps["build"] / "dataset"], "models": models},
            "results": index})
        save_card(render_results_card(out / "report", repo_id=repos["results"]), out / "report")
    stages.append(Stage("report", "python", ["report", cfg.name], deps=["build", "fit", "transfer", *runs, *evals,
                                                                       *extra_evals, *train_stages, *base_stages], func=report))
    dry, dtype = cfg.push.get("dry_run", True), cfg.push.get("dtype")
    pushes = [("build", "{dep:build}/dataset", repos["dataset"], ["build"]),
              ("report", "{dep:report}/report", repos["results"], ["report"])]
    # A model is pushed after its evaluations (every profile), which wrote the scores into its card.
    pushes += [(t, f"{{dep:{t}}}/model", model_repo(cfg, t), [t] + evals_of.get(t, [])) for t in train_stages]
    if cfg.push.get("skip"):
        pushes = []
    for dep, folder, repo_id, deps in pushes:
        argv = ["push", folder, "--repo-id", repo_id, "--stage", "{out}"] + (["--dry-run"] if dry else [])
        argv += ["--dtype", str(dtype)] if dtype and dep in train_stages else []
        stages.append(Stage(f"push-{dep}", "push", argv, deps=deps))
    return stages


def _endpoint_argv(cfg: ExperimentConfig, server_url: str | None) -> list[str]:
    """The augment stages' endpoint flags (not hashed: a server's port changes from run to run). A role with
    no URL of its own uses generator.base_url, else the embedded server."""
    def joined(url):  # a YAML list of endpoints -> augment's comma-separated --base-url
        return ",".join(url) if isinstance(url, list) else url

    shared = joined(cfg.generator.get("base_url")) or server_url
    argv = ["--base-url", shared] if shared else []
    for role in ROLES:
        if _role(cfg, role).get("base_url"):
            argv += [f"--{role}-base-url", joined(_role(cfg, role)["base_url"])]
    return argv


@contextlib.contextmanager
def _generator(cfg: ExperimentConfig, stages: list[Stage]):
    """Start one embedded server for all augment stages still to run, unless every role has an endpoint."""
    pending = [s for s in stages if s.kind == "augment" and not is_done(s) and "--no-llm" not in s.argv]
    served = cfg.generator.get("base_url") or all(_role(cfg, role).get("base_url") for role in ROLES)
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
    with _generator(cfg, stages):
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


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="experiment YAML (see configs/demo.yaml)")
    p.add_argument("--plan", action="store_true", help="print the stages and their state, run nothing")


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except ConfigError as e:
        for problem in e.problems:
            print(f"augmath experiment: error: {problem}", file=sys.stderr)
        return 2
    except StageError as e:  # the stage's own log tail says why; the runner's traceback would not
        print(f"augmath experiment: {e}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.plan:  # runs on any machine: a missing data folder is a note here and an error only when running
        from augmath.plan_sizes import stage_sizes

        cfg = ExperimentConfig.from_yaml(args.config, folders=False)
        stages = resolve(plan(cfg), Path(cfg.workdir) / "stages")
        sizes = stage_sizes(cfg, stages)
        for note in check_folders({"data_dir": cfg.data_dir, "dataset": cfg.dataset}):
            print(f"note: {note} (needed to run, not to plan)")
        for st in stages:
            print(f"{'done' if is_done(st) else 'todo'}  {st.name:<34} {st.out}"
                  + (f"\n      {sizes[st.name]}" if st.name in sizes else ""))
        return 0
    run_experiment(args.config)
    return 0
