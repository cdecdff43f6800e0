"""The experiment YAML's generator roles and evaluation profiles, and the paper configs' generation and evaluation
settings (configs/paper_gsm8k.yaml, configs/paper_math.yaml) checked against the commands they become."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

import pytest
import yaml

from augmath.augment import run as augment_run
from augmath.eval_tasks import run as eval_run
from augmath.experiment import ExperimentConfig, plan
from augmath.experiment.runner import _generator
from augmath.experiment.config import check_meaning
from augmath.typed_yaml import build, check
from augmath.experiment.stages import resolve
from augmath.training.config import load_recipe

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, **extra) -> Path:
    cfg = {"name": "roles", "workdir": str(tmp_path / "work"), "data_dir": "packaged",
           "augment": [{"source": "gsm8k", "strategies": ["complexity"], "limit": 2, "prompt_style": "paper"}],
           "base_models": ["tiny"], "eval": {"tasks": ["gsm8k"], "profiles": ["paper", "lenient"]}, **extra}
    path = tmp_path / "e.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_generator_roles_become_augment_flags(tmp_path):
    path = write(tmp_path, generator={"base_url": "http://shared/v1", "query": {"model": "qwen-max"},
                                      "response": {"base_url": "http://paths/v1", "model": "deepseek-math-rl"}})
    cfg = ExperimentConfig.from_yaml(path)
    stages = resolve(plan(cfg), tmp_path / "s")
    augment = next(s for s in stages if s.kind == "augment")
    argv = " ".join(augment.argv)
    assert "--query-model qwen-max" in argv and "--response-model deepseek-math-rl" in argv
    assert "--prompt-style paper" in argv
    with _generator(cfg, stages) as server:  # every role has a URL: nothing is started
        assert server is None
        assert augment.volatile_argv == ["--base-url", "http://shared/v1", "--response-base-url", "http://paths/v1"]
    parsed = augment_parser().parse_args([a.replace("{out}", "o") for a in augment.argv[1:] + augment.volatile_argv])
    assert (parsed.query_model, parsed.response_base_url, parsed.base_url) == (
        "qwen-max", "http://paths/v1", "http://shared/v1")


def test_each_profile_is_an_eval_stage_and_the_first_feeds_the_fit(tmp_path):
    stages = {s.name: s for s in plan(ExperimentConfig.from_yaml(write(tmp_path)))}
    assert "--profile paper" in " ".join(stages["eval-base-tiny"].argv)
    assert "--profile" not in stages["eval-base-tiny-lenient"].argv  # lenient is the default
    assert "eval-base-tiny" in stages["transfer"].deps and "eval-base-tiny-lenient" not in stages["transfer"].deps
    assert {"eval-base-tiny", "eval-base-tiny-lenient"} <= set(stages["report"].deps)


@pytest.mark.parametrize("generator, message", [
    ({"url": "x"}, r"generator\.url: unknown key"),
    ({"query": {"modle": "m"}}, r"generator\.query\.modle: unknown key \(did you mean 'model'\?\)"),
    ({"response": "m"}, r"generator\.response: expected a mapping"),
])
def test_bad_generator_is_named(generator, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        ExperimentConfig.from_yaml(write(tmp_path, generator=generator))


def test_bad_profiles_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"eval\.profiles\[0\]: 'official' is not one of lenient, paper"):
        ExperimentConfig.from_yaml(write(tmp_path, eval={"profiles": ["official"]}))
    # the paper profile fixes its generation size, so `augmath eval` would refuse the override: said up front
    with pytest.raises(ValueError, match=r"eval\.args: --max-new-tokens cannot apply to the 'paper' profile"):
        ExperimentConfig.from_yaml(write(tmp_path, eval={"profiles": ["lenient", "paper"],
                                                          "args": ["--max-new-tokens", "8"]}))


def augment_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(exit_on_error=False)
    augment_run.add_arguments(p)
    return p


def eval_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(exit_on_error=False)
    eval_run.add_arguments(p)
    return p


@pytest.mark.parametrize("name", ["paper_gsm8k.yaml", "paper_math.yaml"])
def test_paper_configs_generation_and_evaluation_settings_are_valid(name):
    """Generator roles, every augment entry (as the `augmath augment` command it becomes), the training template,
    the eval profiles and arguments, and the train runs (mixtures of the original and augmented data nested by
    round and by query: issue #13 part A) as the train stages they become."""
    raw = yaml.safe_load((ROOT / "configs" / name).read_text())
    assert check(ExperimentConfig, raw) == [] and check_meaning(raw) == []  # the whole file, every key
    source = raw["augment"][0]["source"]
    trains = [s.name for s in plan(build(ExperimentConfig, raw)) if s.kind == "train"]
    k3 = "-k3" if source == "gsm8k" else ""
    assert [f"train-Llama-2-7b-hf-{source}-original+{source}-{r}{k3}-all" for r in ("r0", "r0+1", "r0+1+2")] == [
        t for t in trains if "-r0" in t]  # D1, D1+D2, D1+D2+D3 with the whole original train split
    for entry in raw["augment"]:
        argv = ["--out", "o", "--source", entry["source"], "--strategies", ",".join(entry["strategies"])]
        for key, value in entry.items():
            if key not in ("source", "strategies", "name"):
                argv += [f"--{key.replace('_', '-')}"] + ([] if value is True else [str(value)])
        args = augment_parser().parse_args(argv)
        assert args.prompt_style == "paper" and args.strategies == "numbers,fraction,combine,conditional,complexity"
        assert args.query_model.startswith("FILL_IN")
    assert [e["first_round"] for e in raw["augment"]] == [0, 1, 2]  # three rounds, one run each
    assert len({e["name"] for e in raw["augment"]}) == 3 and source in ("gsm8k", "math")
    assert load_recipe(raw["train"]["recipe"], raw["train"]["overrides"]).prompt_template \
        == "alpaca-input"
    assert raw["eval"]["profiles"] == ["paper", "lenient"]
    args = eval_parser().parse_args(["--tasks", ",".join(raw["eval"]["tasks"]), "--out", "o",
                                     *raw["eval"]["args"], "--profile", "paper"])
    assert args.template == "alpaca-input" and eval_run.parse_tasks(args.tasks)[0] == source
    assert shlex.split(" ".join(raw["eval"]["args"]))  # plain strings, as the plan passes them


def test_stage_labels_with_plus_make_valid_repo_ids(tmp_path):
    """Mixture and round-selection labels hold '+', which a Hub repo name may not: the pushes still name valid,
    distinct repos."""
    from augmath.cards import REPO_ID_RE
    from augmath.experiment import model_repo

    path = write(tmp_path, train={"recipe": "cpu_tiny", "runs": [
        {"config": "gsm8k", "rounds": [[0], [0, 1]]},
        {"mixture": [{"config": "gsm8k-original", "amount": "all"}, {"config": "gsm8k"}], "amounts": [4]}]})
    cfg = ExperimentConfig.from_yaml(path)
    pushes = [s for s in plan(cfg) if s.kind == "push" and s.name.startswith("push-train-")]
    repos = [s.argv[s.argv.index("--repo-id") + 1] for s in pushes]
    assert len(repos) == 3 == len(set(repos)) and all(REPO_ID_RE.match(r) for r in repos), repos
    assert model_repo(cfg, "train-tiny-gsm8k-original+gsm8k-4") == "augmath/roles-tiny-gsm8k-original-gsm8k-4"
