"""`train.seeds` in the experiment YAML: one train stage per (config, N, seed), seeds reaching `augmath train`, and
configs without seeds planning exactly what they did before."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from augmath.experiment import ExperimentConfig, plan
from augmath.experiment.stages import resolve


def _config(tmp_path: Path, **train) -> Path:
    cfg = {
        "name": "seeds", "workdir": str(tmp_path / "work"), "data_dir": "packaged",
        "augment": [{"source": "gsm8k", "strategies": ["numbers"], "limit": 6, "no_llm": True}],
        "base_models": ["tiny"],
        "train": {"recipe": "training/recipes/cpu_tiny.yaml", "overrides": {"num_train_epochs": 1},
                  "runs": [{"config": "gsm8k-numbers", "amounts": [2, 4]}, {"config": "gsm8k-original", "amounts": [4]}],
                  **train},
        "eval": {"tasks": ["gsm8k_bpb"], "max_samples": 3, "include_base": False},
    }
    path = tmp_path / "seeds.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_each_config_and_n_is_trained_once_per_seed(tmp_path):
    stages = {s.name: s for s in plan(ExperimentConfig.from_yaml(_config(tmp_path, seeds=[0, 1, 2])))}
    trained = sorted(n for n in stages if n.startswith("train-"))
    assert trained == sorted(f"train-tiny-{c}-s{s}" for c in ("gsm8k-numbers-2", "gsm8k-numbers-4",
                                                               "gsm8k-original-4") for s in (0, 1, 2))
    for s in (0, 1, 2):
        argv = stages[f"train-tiny-gsm8k-numbers-4-s{s}"].argv
        assert argv[-2:] == ["--seed", str(s)]
        assert argv[argv.index("--hub_model_id") + 1].endswith(f"gsm8k-numbers-4-s{s}")
        assert stages[f"eval-train-tiny-gsm8k-numbers-4-s{s}"].deps == [f"train-tiny-gsm8k-numbers-4-s{s}"]
    # every seed's results reach the fit, the transfer matrix and the report
    assert {d for d in stages["fit"].deps} == {f"eval-{t}" for t in trained}
    assert set(stages["transfer"].deps) == {f"eval-{t}" for t in trained}


def test_seeds_leave_the_seedless_plan_and_the_shared_stages_alone(tmp_path):
    plain = resolve(plan(ExperimentConfig.from_yaml(_config(tmp_path))), tmp_path / "w")
    seeded = {s.name: s.key for s in resolve(plan(ExperimentConfig.from_yaml(_config(tmp_path, seeds=[0, 1]))),
                                             tmp_path / "w")}
    by_name = {s.name: s for s in plain}
    assert sorted(n for n in by_name if n.startswith("train-")) == [
        "train-tiny-gsm8k-numbers-2", "train-tiny-gsm8k-numbers-4", "train-tiny-gsm8k-original-4"]
    assert all("--seed" not in by_name[n].argv for n in by_name if n.startswith("train-"))
    for name in ("augment-gsm8k", "build", "base-tiny"):  # upstream of training: the same stage, the same key
        assert seeded[name] == by_name[name].key


def test_a_run_can_have_its_own_seeds(tmp_path):
    """The curve once, the comparison at one N with three seeds: what a budgeted main job needs."""
    path = _config(tmp_path, runs=[{"config": "gsm8k-numbers", "amounts": [2, 4]},
                                   {"config": "gsm8k-original", "amounts": [4], "seeds": [0, 1, 2]}])
    stages = {s.name: s for s in plan(ExperimentConfig.from_yaml(path))}
    assert sorted(n for n in stages if n.startswith("train-")) == [
        "train-tiny-gsm8k-numbers-2", "train-tiny-gsm8k-numbers-4", "train-tiny-gsm8k-original-4-s0",
        "train-tiny-gsm8k-original-4-s1", "train-tiny-gsm8k-original-4-s2"]
    assert "--seed" not in stages["train-tiny-gsm8k-numbers-4"].argv
    assert stages["train-tiny-gsm8k-original-4-s2"].argv[-2:] == ["--seed", "2"]


def test_the_seed_is_a_recipe_key_augmath_train_reads():
    from augmath.training.config import load_recipe, parse_overrides, resolve_file

    assert load_recipe(resolve_file("recipes", "cpu_tiny"), parse_overrides(["--seed", "3"])).seed == 3


@pytest.mark.parametrize("train, message", [
    ({"seeds": [0, 0]}, r"train.seeds: \[0, 0\] repeats a seed"),
    ({"seeds": [-1]}, r"train.seeds: seeds must be >= 0"),
    ({"seeds": []}, r"train.seeds: needs at least one seed"),
    ({"seeds": ["a"]}, r"train.seeds"),
    ({"seeds": [0, 1], "overrides": {"seed": 5}}, r"train.overrides.seed: the seeds key sets the seed of every run"),
    ({"runs": [{"config": "gsm8k-numbers", "amounts": [2], "seeds": [1, 1]}]},
     r"train.runs\[0\].seeds: \[1, 1\] repeats a seed"),
    ({"runs": [{"config": "gsm8k-numbers", "amounts": [2], "seeds": [1], "overrides": {"seed": 3}}]},
     r"train.runs\[0\].overrides.seed: the seeds key sets the seed"),
])
def test_bad_seeds_are_named(tmp_path, train, message):
    with pytest.raises(ValueError, match=message):
        ExperimentConfig.from_yaml(_config(tmp_path, **train))
