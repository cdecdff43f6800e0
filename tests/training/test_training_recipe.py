"""Bad recipes and bad inputs fail with clear errors before any weights are loaded."""

from __future__ import annotations

import json

import pytest

from augmath.models import BaseModelError, check_causal_lm
from augmath.training.config import FIELDS, PACKAGED, RecipeError, load_recipe, parse_overrides
from augmath.training.data import DatasetError
from augmath.tiny import make_tiny_llama
from training_helpers import default_dataset, launch, load_sft_module, tiny_recipe

RECIPES = PACKAGED / "recipes"  # training/recipes/ in the checkout, shipped in the wheel


@pytest.fixture(scope="module")
def sft():
    return load_sft_module()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("recipe")
    return tmp, make_tiny_llama(tmp / "tiny"), default_dataset(tmp / "ds")


@pytest.fixture
def no_weights(sft, monkeypatch):
    """Fail the test if the script gets as far as loading model weights."""
    def refuse(*a, **k):
        raise AssertionError("model weights were loaded before the bad input was reported")
    monkeypatch.setattr(sft, "build_model", refuse)


@pytest.mark.parametrize("recipe", sorted(p.name for p in RECIPES.glob("*.yaml")))
def test_shipped_recipes_are_valid(recipe):
    cfg = load_recipe(RECIPES / recipe)
    assert cfg.learning_rate > 0 and cfg.output_dir


def test_paper_recipe_has_the_paper_hyperparameters():
    cfg = load_recipe(RECIPES / "paper_llama2_7b_fsdp.yaml")
    assert (cfg.learning_rate, cfg.lr_scheduler_type, cfg.warmup_ratio, cfg.num_train_epochs) == (2e-5, "cosine", 0.03, 3)
    assert (cfg.global_batch_size, cfg.max_length, cfg.prompt_template, cfg.use_peft) == (128, 512, "alpaca", False)


def test_missing_unknown_and_invalid_keys(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("dataset: x\noutput_dir: y\n")
    with pytest.raises(RecipeError, match=r"r.yaml: missing required key\(s\) model_name_or_path"):
        load_recipe(path)
    path.write_text("model_name_or_path: m\ndataset: x\noutput_dir: y\nlearning_rat: 1e-5\n")
    with pytest.raises(RecipeError, match=r"r.yaml: learning_rat: unknown key \(did you mean 'learning_rate'\?\)"):
        load_recipe(path)
    # every problem at once (the one typed-YAML checker, shared with the experiment config), each naming its place
    path.write_text("model_name_or_path: m\ndataset: x\noutput_dir: y\nlearning_rat: 1e-5\nmax_length: long\n")
    with pytest.raises(RecipeError) as e:
        load_recipe(path, {"seeed": 1})
    assert e.value.lines == [f"{path}: learning_rat: unknown key (did you mean 'learning_rate'?); valid: "
                             + ", ".join(FIELDS), f"{path}: max_length: expected an integer, got str 'long'",
                             "command line: seeed: unknown key (did you mean 'seed'?); valid: " + ", ".join(FIELDS)]
    path.write_text("model_name_or_path: m\ndataset: x\noutput_dir: y\nlearning_rate: 2e-5\n")
    assert load_recipe(path).learning_rate == 2e-5  # YAML 1.1 reads `2e-5` as text; a float field takes the number
    path.write_text("model_name_or_path: m\ndataset: x\noutput_dir: y\n")
    with pytest.raises(RecipeError, match="'overlong' is 'cut'; valid: truncate, drop"):
        load_recipe(path, {"overlong": "cut"})
    with pytest.raises(RecipeError, match="command line: num_train_epochs: expected an integer, got str 'three'"):
        load_recipe(path, parse_overrides(["--num_train_epochs", "three"]))
    with pytest.raises(RecipeError, match="either 'dataset_config' or 'dataset_mixture'"):
        load_recipe(path, {"dataset_config": "a", "dataset_mixture": {"a": 1}})
    cfg = load_recipe(path, parse_overrides(["--learning_rate=1e-4", "--num-samples", "64", "--dataset_mixture",
                                             "{a: 2, b: 1}"]))
    assert (cfg.learning_rate, cfg.num_samples, cfg.dataset_mixture) == (1e-4, 64, {"a": 2, "b": 1})


def test_unknown_dataset_config_lists_the_valid_ones(sft, setup, no_weights, tmp_path):
    tmp, model, ds = setup
    recipe = tiny_recipe(tmp_path, model, ds, tmp_path / "out", dataset_config="gsm8k-reverse")
    with pytest.raises(DatasetError, match="has no config 'gsm8k-reverse'; valid configs: gsm8k-original, gsm8k-rest, empty"):
        sft.main(["--config", str(recipe)])
    with pytest.raises(DatasetError, match=r"no config\(s\) \['nope'\]"):
        sft.main(["--config", str(recipe), "--dataset_config", "null", "--dataset_mixture", "{gsm8k-rest: 1, nope: 1}"])


def test_empty_dataset_and_too_few_rows(sft, setup, no_weights, tmp_path):
    tmp, model, ds = setup
    recipe = tiny_recipe(tmp_path, model, ds, tmp_path / "out", dataset_config="empty", num_samples=None)
    with pytest.raises(DatasetError, match="has no rows"):
        sft.main(["--config", str(recipe)])
    with pytest.raises(DatasetError, match="asked for the first 500 rows but it has only 100"):
        sft.main(["--config", str(recipe), "--dataset_config", "gsm8k-rest", "--num_samples", "500"])
    with pytest.raises(DatasetError, match="not found|cannot list"):
        sft.main(["--config", str(recipe), "--dataset", str(tmp_path / "missing")])
    with pytest.raises(DatasetError, match="all 32 examples are longer than max_length=20"):
        sft.main(["--config", str(recipe), "--dataset_config", "gsm8k-original", "--num_samples", "32",
                  "--max_length", "20"])


def test_base_model_that_is_not_a_causal_lm(sft, setup, no_weights, tmp_path):
    tmp, _, ds = setup
    recipe = tiny_recipe(tmp_path, tmp_path / "empty_dir", ds, tmp_path / "out")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(BaseModelError, match="has no config.json"):
        sft.main(["--config", str(recipe)])
    bert = tmp_path / "bert"
    bert.mkdir()
    (bert / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertForMaskedLM"]}))
    with pytest.raises(BaseModelError, match="is not a causal language model"):
        check_causal_lm(str(bert))
    with pytest.raises(BaseModelError, match="is not a causal language model"):
        sft.main(["--config", str(recipe), "--model_name_or_path", str(bert)])


def test_bad_input_under_accelerate_launch_exits_2_with_the_message(setup, tmp_path):
    tmp, model, ds = setup
    recipe = tiny_recipe(tmp_path, model, ds, tmp_path / "out", dataset_config="gsm8k-reverse")
    proc = launch(tmp_path, recipe, timeout=180)
    assert proc.returncode != 0
    assert "error: dataset" in proc.stderr and "valid configs: gsm8k-original, gsm8k-rest, empty" in proc.stderr
    assert not (tmp_path / "out" / "model.safetensors").exists()


def test_rebuilt_dataset_folder_is_not_read_from_a_stale_cache(tmp_path):
    """datasets 5.2 caches a local folder by its name only; load_rows must see the new rows after a rebuild."""
    from augmath.training.config import SFTConfig
    from augmath.training.data import load_rows
    from training_helpers import gsm8k_rows, make_dataset

    folder = tmp_path / "a" / "dataset"
    make_dataset(folder, {"gsm8k-original": gsm8k_rows(16)})
    cfg = SFTConfig(model_name_or_path="m", dataset=str(folder), dataset_config="gsm8k-original", output_dir="o")
    rows, _ = load_rows(cfg)
    assert len(rows) == 16
    make_dataset(folder, {"gsm8k-original": gsm8k_rows(8, offset=100)})  # rebuilt in place
    rows, _ = load_rows(cfg)
    assert len(rows) == 8 and rows[0]["question"] == gsm8k_rows(1, offset=100)[0]["question"]
    other = tmp_path / "b" / "dataset"  # another folder with the same name
    make_dataset(other, {"gsm8k-original": gsm8k_rows(4, offset=50)})
    rows, _ = load_rows(SFTConfig(model_name_or_path="m", dataset=str(other), dataset_config="gsm8k-original",
                                  output_dir="o"))
    assert len(rows) == 4


def test_augmath_train_builds_the_launch_command_for_the_machine():
    from augmath.training.launch import SFT_MODULE, build_command, split_args

    own, rest = split_args(["--num_samples", "8", "--processes", "2", "--dry-run", "--seed=3"])
    assert own == {"processes": "2", "dry_run": True} and rest == ["--num_samples", "8", "--seed=3"]
    cmd, env = build_command("r.yaml", rest, processes=2, gpus=0)  # CPU: multi-GPU launcher + ACCELERATE_USE_CPU
    assert env == {"ACCELERATE_USE_CPU": "true"}
    assert cmd[cmd.index("--num_processes") + 1] == "2" and "--multi_gpu" in cmd and "--cpu" not in cmd
    assert cmd[-7:] == ["-m", SFT_MODULE, "--config", "r.yaml", "--num_samples", "8", "--seed=3"]
    cmd, env = build_command("r.yaml", [], gpus=0)
    assert env == {} and "--cpu" in cmd
    cmd, env = build_command("r.yaml", [], gpus=8)
    assert env == {} and "--multi_gpu" in cmd and cmd[cmd.index("--num_processes") + 1] == "8"
    cfg = str(RECIPES.parent / "accelerate_configs" / "cpu_2proc.yaml")
    cmd, env = build_command("r.yaml", [], accelerate_config=cfg, gpus=0)
    assert env == {"ACCELERATE_USE_CPU": "true"} and cmd[cmd.index("--config_file") + 1] == cfg
    cmd, env = build_command("r.yaml", [], accelerate_config=str(RECIPES.parent / "accelerate_configs" /
                                                                 "fsdp_full_shard.yaml"), gpus=8)
    assert env == {}


@pytest.mark.parametrize("name", ["cpu_2proc", "multi_gpu_ddp", "fsdp_full_shard", "deepspeed_zero2",
                                  "deepspeed_zero3", "multi_node"])
def test_accelerate_configs_parse_with_accelerate(name):
    """Each config loads through accelerate's own config class (catches unknown keys and bad values)."""
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(RECIPES.parent / "accelerate_configs" / f"{name}.yaml"))
    assert config.num_processes >= 2
