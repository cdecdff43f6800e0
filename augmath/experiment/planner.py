"""The plan of `augmath experiment CONFIG.yaml`: the typed config in, the list of stages out, nothing run.

    stages = plan(ExperimentConfig.from_yaml("configs/demo.yaml"))

Stages, each an ordinary `augmath` command (augmath/experiment/stages.py says how they are keyed and skipped):
  augment (per source) -> build -> base model -> train (per config x data amount [x seed]) -> eval (per model)
  -> fit -> transfer -> report -> push (dry run unless push.dry_run is false)
One small planner per stage kind below; `plan` chains them. Every artifact's Hub repo id is fixed by the config
before anything runs (`hub_repos`, augmath.publish.repos), so each card names the others as they will be on the
Hub. The argv each planner writes is what a stage's key hashes: change it and every finished workdir reruns.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augmath.experiment.config import ConfigError, ExperimentConfig
from augmath.experiment.prebuilt import prebuilt_stage
from augmath.experiment.stages import Stage, stage_timings
from augmath.experiment.train_runs import train_runs
from augmath.publish import repos
from augmath.training.config import resolve_file
from augmath.typed_yaml import given

LOCAL_BASES = ("embedded", "tiny")  # built by a stage; anything else is a model folder or Hub id
ROLES = ("query", "response")  # generator roles: who writes the queries, who samples the paths

def hub_repos(cfg: ExperimentConfig) -> dict[str, str]:
    """Where everything is pushed (push.org): the dataset, the results, and one model repo per train stage
    (looked up by stage name with `model_repo`)."""
    return repos.hub_repos(cfg.push.org, cfg.name, cfg.dataset.name or cfg.name)


def model_repo(cfg: ExperimentConfig, train_stage: str) -> str:
    return repos.model_repo(cfg.push.org, cfg.name, train_stage)


@dataclass
class Planned:
    """The stages so far and the names later planners need (which stage is which kind of input)."""

    stages: list[Stage] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)  # augment stages (their run folders feed the build)
    bases: dict[str, str] = field(default_factory=dict)  # base-model stage -> embedded | tiny
    trained: list[str] = field(default_factory=list)  # train stages
    evals: list[str] = field(default_factory=list)  # eval stages of the first profile: the fit, transfer, report
    extra_evals: list[str] = field(default_factory=list)  # the other profiles' eval stages
    evals_of: dict[str, list[str]] = field(default_factory=dict)  # model stage -> its eval stages


def plan(cfg: ExperimentConfig) -> list[Stage]:
    data = ["--data-dir", cfg.data_dir] if cfg.data_dir else []
    p = Planned()
    augment_stages(cfg, p, data)
    p.stages.append(build_stage(cfg, p.runs, data))
    model_stages(cfg, p, data)
    analysis_stages(cfg, p)
    push_stages(cfg, p)
    return p.stages


def augment_stages(cfg: ExperimentConfig, p: Planned, data: list[str]) -> None:
    """One `augmath augment` per `augment:` entry; the entry's keys become flags in the YAML's order."""
    for a in cfg.augment:
        name = f"augment-{a.name or a.source}"
        # The run folder is named after the stage: `augmath build` names each input run by its folder.
        argv = ["augment", "--source", a.source, "--strategies", ",".join(a.strategies), "--out", f"{{out}}/{name}"]
        for key in given(a):
            value = getattr(a, key)
            if key not in ("source", "strategies", "name") and value is not None and value is not False:
                argv += [f"--{key.replace('_', '-')}"] + ([] if value is True else [str(value)])
        if cfg.generator.model and "model" not in given(a):  # a run's own model (e.g. a later round's) wins
            argv += ["--model", cfg.generator.model]
        argv += [x for role in ROLES if cfg.role(role).model and f"{role}_model" not in given(a)
                 for x in (f"--{role}-model", cfg.role(role).model)]
        p.stages.append(Stage(name, "augment", argv + data))
        p.runs.append(name)


def build_stage(cfg: ExperimentConfig, runs: list[str], data: list[str]) -> Stage:
    """`augmath build` over every run folder, or the prebuilt dataset (augmath/experiment/prebuilt.py), which
    later stages read as the build's output."""
    ds = cfg.dataset
    if ds.path:
        return prebuilt_stage(ds.path)
    return Stage("build", "build", ["build", *[f"{{dep:{r}}}/{r}" for r in runs], "--out", "{out}/dataset",
                                    "--name", str(ds.name or cfg.name), "--version", str(ds.version),
                                    "--seed", str(ds.seed), "--repo-id", hub_repos(cfg)["dataset"]] + data
                 + (["--paths-per-query", str(ds.paths_per_query)] if ds.paths_per_query else []), deps=runs)


def base_stage(spec: str) -> Stage:
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


def model_stages(cfg: ExperimentConfig, p: Planned, data: list[str]) -> None:
    """Per base model: its base stage (if made here), a train stage per run x data amount, and an eval stage per
    model (the base included unless eval.include_base is false) and profile."""
    recipe = str(resolve_file("recipes", cfg.train.recipe).resolve()) if cfg.train.recipe else ""
    for base in cfg.base_models:
        if base in LOCAL_BASES:
            p.stages.append(base_stage(base))
            p.bases[f"base-{base}"] = base
            base_ref, base_deps = f"{{dep:base-{base}}}/model", [f"base-{base}"]
        else:
            base_ref, base_deps = base, []
        tag = Path(base).name
        models = [(f"base-{tag}", base_ref, base_deps)] if cfg.eval.include_base else []
        for run in train_runs(cfg.train.runs, cfg.name):
            overrides = {**cfg.train.overrides, **run.overrides}
            seeds = run.seeds if run.seeds is not None else cfg.train.seeds
            for (label, data_argv), seed in itertools.product(run.jobs(), seeds or [None]):
                # no seeds: the name and argv of a config written before train.seeds (its stage keys unchanged)
                name = f"train-{tag}-{label}" + ("" if seed is None else f"-s{seed}")
                argv = ["train", recipe, "--model_name_or_path", base_ref, "--dataset", "{dep:build}/dataset",
                        *data_argv, "--output_dir", "{out}/model", "--hub_model_id", model_repo(cfg, name)]
                argv += [x for k, v in overrides.items() for x in (f"--{k}", _override_text(v))]
                argv += [] if seed is None else ["--seed", str(seed)]
                p.stages.append(Stage(name, "train", argv, deps=["build", *base_deps]))
                p.trained.append(name)
                models.append((name, f"{{dep:{name}}}/model", [name]))
        for name, ref, deps in models:
            eval_stages(cfg, p, name, ref, deps, data)
    _refuse_repo_clashes(cfg, p.trained)


def eval_stages(cfg: ExperimentConfig, p: Planned, model: str, ref: str, deps: list[str], data: list[str]) -> None:
    """One `augmath eval` per profile. The first profile's scores feed the fit, the transfer matrix and the
    report; the others are extra stages whose results.json (which names its profile) go beside them."""
    ev = cfg.eval
    args = [str(x) for x in ev.args]
    samples = ev.max_samples
    if isinstance(samples, dict):  # per task: {gsm8k_bpb: 24, math500_bpb: 8}
        samples = ",".join(f"{task}={n}" for task, n in samples.items())
    if samples:
        args += ["--max-samples", str(samples)]
    for i, profile in enumerate(ev.profiles):
        stage = f"eval-{model}" if i == 0 else f"eval-{model}-{profile}"
        chosen = [] if profile == "lenient" else ["--profile", profile]
        p.stages.append(Stage(stage, "eval", ["eval", "--model", ref, "--tasks", ",".join(ev.tasks), "--out",
                                              "{out}/results"] + args + chosen + data, deps=deps))
        (p.evals if i == 0 else p.extra_evals).append(stage)
        p.evals_of.setdefault(model, []).append(stage)


def _refuse_repo_clashes(cfg: ExperimentConfig, trained: list[str]) -> None:
    repo_of: dict[str, str] = {}
    for t in trained:  # two stages whose labels differ only in characters a repo name cannot hold
        if repo_of.setdefault(model_repo(cfg, t), t) != t:
            raise ConfigError([f"train stages {repo_of[model_repo(cfg, t)]} and {t} would push to the same repo "
                               f"{model_repo(cfg, t)}; give one of their train.runs a distinct 'name'"])


def analysis_stages(cfg: ExperimentConfig, p: Planned) -> None:
    """fit (trained models only: a base model has no data amount N), transfer (every model), and the report."""
    results = [f"{{dep:{e}}}/results" for e in p.evals]
    fitted = [e for e in p.evals if e.startswith("eval-train-")]
    fit_args = ["--target-acc", str(cfg.fit.target_acc)] if cfg.fit.target_acc else []
    fit_args += ["--target-bpb", str(cfg.fit.target_bpb)] if cfg.fit.target_bpb else []
    p.stages.append(Stage("fit", "fit", ["fit", *[f"{{dep:{e}}}/results" for e in fitted], "--out", "{out}/fit"]
                          + fit_args, deps=fitted, ok_codes=(0, 1)))  # 1 = a series could not be fitted: reported
    p.stages.append(Stage("transfer", "transfer", ["transfer", *results, "--out", "{out}/transfer"], deps=p.evals))
    p.stages.append(report_stage(cfg, p))


def report_stage(cfg: ExperimentConfig, p: Planned) -> Stage:
    """The results repository (augmath.analysis.results_repo), named by Hub ids throughout."""
    from augmath.analysis.results_repo import write_results_repo

    hub, version = hub_repos(cfg), cfg.dataset.version
    evals, extra, runs, trained, bases = p.evals, p.extra_evals, p.runs, p.trained, dict(p.bases)
    # the 135M model on a few items per task is plumbing; on the full test sets it is a measurement of that model
    # (whose limits the config's description states)
    demo = bool(cfg.eval.max_samples) if "embedded" in cfg.base_models else None
    model_of = {e: model_repo(cfg, e.removeprefix("eval-")) for e in evals if e.startswith("eval-train-")}
    trained_repo = {t: model_repo(cfg, t) for t in trained}

    def report(out: Path, deps: dict[str, Path]) -> None:
        published = repos.published_names(deps["build"] / "dataset", f"{hub['dataset']}@v{version}",
                                          {deps[t] / "model": trained_repo[t] for t in trained},
                                          {deps[b] / "model": kind for b, kind in bases.items()})
        write_results_repo(out / "report", {e: deps[e] / "results" for e in evals + extra}, primary=evals,
                           experiment=cfg.name, repo_id=hub["results"], fit_dir=deps["fit"] / "fit",
                           transfer_dir=deps["transfer"] / "transfer", run_dirs=[deps[r] / r for r in runs],
                           dataset_dir=deps["build"] / "dataset", model_dirs=[deps[t] / "model" for t in trained],
                           published=published, models=model_of, demo=demo, description=cfg.description,
                           timings=stage_timings({d: deps[d] for d in [*runs, "build", *bases, *trained, *evals,
                                                                       *extra, "fit", "transfer"]}))
    return Stage("report", "python", ["report", cfg.name], func=report,
                 code_of=(write_results_repo, repos.published_names),
                 deps=["build", "fit", "transfer", *runs, *evals, *extra, *trained, *bases])


def push_stages(cfg: ExperimentConfig, p: Planned) -> None:
    """`augmath push` of the dataset, the results and each model (after all its evaluations, which wrote the
    scores into its card); dry runs unless push.dry_run is false, none at all with push.skip."""
    if cfg.push.skip:
        return
    hub, dtype = hub_repos(cfg), cfg.push.dtype
    pushes = [("build", "{dep:build}/dataset", hub["dataset"], ["build"]),
              ("report", "{dep:report}/report", hub["results"], ["report"])]
    pushes += [(t, f"{{dep:{t}}}/model", model_repo(cfg, t), [t] + p.evals_of.get(t, [])) for t in p.trained]
    for dep, folder, repo_id, deps in pushes:
        argv = ["push", folder, "--repo-id", repo_id, "--stage", "{out}"] + (["--dry-run"] if cfg.push.dry_run else [])
        argv += ["--dtype", str(dtype)] if dtype and dep in p.trained else []
        p.stages.append(Stage(f"push-{dep}", "push", argv, deps=deps))
