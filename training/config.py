"""The training recipe: one dataclass, read from YAML, overridden by `--key value` on the command line.

Defaults are MuggleMath's (arXiv 2310.05506, Alpaca-style SFT): lr 2e-5, cosine, 3% warmup, 3 epochs, effective
batch 128, max length 512, loss on the response only. Everything is checked here, before any model or data is
touched: a missing required key, an unknown key (with the closest valid name), a value of the wrong type or
outside its choices all fail in well under a second with the file and key named.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from augmath.errors import UserError
from augmath.io import DataError, read_yaml
from augmath.prompts import TEMPLATES
from augmath.typed_yaml import build, check

REQUIRED = ("model_name_or_path", "dataset", "output_dir")
# The keys that choose the training rows, named once: the experiment's train stages set every one of them
# (augmath.experiment.train_runs), and `dataset_parts` replaces all the others.
DATA_KEYS = ("dataset_config", "dataset_mixture", "dataset_parts", "num_samples", "num_queries", "paths_per_query",
             "rounds")
# Keys that may differ between a killed run and the command that resumes it (they do not change the maths).
RESUMABLE_CHANGES = {"logging_steps", "save_steps", "save_total_limit", "report_to", "run_name", "keep_checkpoints",
                     "hub_model_id"}


class RecipeError(UserError, ValueError):
    """A recipe (YAML file or override) is missing a key or has a bad value; the message names both."""


@dataclass
class SFTConfig:
    # --- model ---
    model_name_or_path: str = ""  # HF folder or Hub id; "embedded" = the SmolLM2-135M-Instruct GGUF, converted
    torch_dtype: str = "float32"  # weights dtype: float32 | bfloat16 | float16 (pure low precision, no master copy)
    mixed_precision: str | None = None  # no | bf16 | fp16 autocast; None = whatever `accelerate launch` was given
    attn_implementation: str = "sdpa"  # sdpa | eager | flash_attention_2 | ...
    gradient_checkpointing: bool = False
    # --- data ---
    dataset: str = ""  # dataset folder (augmath build) or Hub id
    dataset_config: str | None = None  # e.g. gsm8k-reverse; None = the dataset's default config
    dataset_mixture: dict[str, float] | None = None  # {config: weight}; replaces dataset_config
    dataset_split: str = "train"
    dataset_revision: str | None = None
    num_samples: int | None = None  # the first N rows (nested); with a mixture, N split by weight
    num_queries: int | None = None  # D_N by query: the first N queries with all their kept paths (nested)
    paths_per_query: int | None = None  # at most the first K kept paths (responses) of each query
    rounds: list[int] | None = None  # only rows of these query rounds (numbered from 0, as augment's), e.g. [0, 1]
    dataset_parts: list[dict] | None = None  # [{config, num_queries, paths_per_query, rounds}]: a mixture of
    #   parts, each its own nested subset (num_queries null = all), e.g. gsm8k-original whole + gsm8k D_N
    prompt_template: str = "alpaca"  # alpaca (MuggleMath) | alpaca-input (the paper's train.py) | chat
    max_length: int = 512
    overlong: str = "truncate"  # truncate | drop: examples longer than max_length (counted either way)
    # --- batching ---
    batching: str = "packed"  # packed: padding-free rows, per-sample position ids | padded: length-grouped
    packed_attention: str = "varlen"  # varlen: attention per sample | mask: block-diagonal mask over the row
    per_device_train_batch_size: int = 4  # samples per micro-batch; accumulation fills the global batch
    # --- optimisation ---
    global_batch_size: int = 128  # samples per optimizer step, across processes and accumulation
    learning_rate: float = 2e-5
    lr_scheduler_type: str = "cosine"
    warmup_ratio: float = 0.03
    num_train_epochs: int = 3
    max_steps: int = -1  # > 0 stops (and sizes the schedule) at this many optimizer steps
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    max_grad_norm: float = 1.0
    seed: int = 42
    # --- LoRA (peft) ---
    use_peft: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: Any = "all-linear"  # "all-linear" or a list of module names
    # --- output, logging, checkpoints ---
    output_dir: str = ""
    logging_steps: int = 1
    save_steps: int = 50  # checkpoint every N optimizer steps (0: only the final model)
    save_total_limit: int = 2
    keep_checkpoints: bool = False  # keep output_dir/checkpoints after a successful run
    report_to: Any = "auto"  # auto (tensorboard if installed) | none | a tracker name or list
    run_name: str | None = None
    hub_model_id: str | None = None  # named in the model card

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


CHOICES = {
    "torch_dtype": ("float32", "bfloat16", "float16", "auto"),
    "mixed_precision": (None, "no", "bf16", "fp16"),
    "prompt_template": TEMPLATES,
    "overlong": ("truncate", "drop"),
    "batching": ("packed", "padded"),
    "packed_attention": ("varlen", "mask"),
    "lr_scheduler_type": ("cosine", "linear", "constant", "constant_with_warmup", "cosine_with_restarts",
                          "polynomial", "inverse_sqrt", "cosine_with_min_lr", "warmup_stable_decay"),
}
POSITIVE = ("max_length", "per_device_train_batch_size", "global_batch_size", "num_train_epochs", "logging_steps",
            "lora_r", "lora_alpha")
NON_NEGATIVE = ("learning_rate", "warmup_ratio", "weight_decay", "max_grad_norm", "save_steps", "save_total_limit",
                "lora_dropout")
FIELDS = {f.name: f for f in dataclasses.fields(SFTConfig)}


def parse_overrides(args: list[str]) -> dict[str, Any]:
    """`--key value` / `--key=value` pairs; values are read as YAML (numbers, true/false, null, lists, dicts)."""
    out: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or arg == "--":
            raise RecipeError(f"command line: expected --key value, got {arg!r}")
        key, eq, value = arg[2:].partition("=")
        key = key.replace("-", "_")
        if not eq:
            if i + 1 >= len(args) or args[i + 1].startswith("--"):
                raise RecipeError(f"command line: --{key} needs a value")
            value = args[i + 1]
            i += 1
        i += 1
        try:
            out[key] = yaml.safe_load(value) if value != "" else ""
        except yaml.YAMLError as e:
            raise RecipeError(f"command line: --{key} {value!r} is not a valid value "
                              f"({getattr(e, 'problem', e)})") from None
    return out


PACKAGED = Path(__file__).resolve().parent  # recipes/ and accelerate_configs/ ship beside this module


def packaged_file(folder: str, name: str | Path) -> Path | None:
    """A file shipped in `folder` (recipes, accelerate_configs) named `name`: `smollm2_demo`, `smollm2_demo.yaml`
    or the checkout path `training/recipes/smollm2_demo.yaml` all name the same packaged recipe."""
    stem = Path(name).name
    path = PACKAGED / folder / (stem if stem.endswith((".yaml", ".yml")) else f"{stem}.yaml")
    return path if path.is_file() else None


def resolve_file(folder: str, name: str | Path) -> Path:
    """An existing path as given (relative to the working directory), else the packaged file of that name."""
    path = Path(name)
    if path.is_file():
        return path
    packaged = packaged_file(folder, name)
    if packaged is None:
        shipped = sorted(p.stem for p in (PACKAGED / folder).glob("*.yaml"))
        raise RecipeError(f"{name}: no such file, and no packaged {folder[:-1].replace('_', ' ')} of that name "
                          f"(packaged: {', '.join(shipped)})")
    return packaged


def load_recipe(path: str | Path | None, overrides: dict[str, Any] | None = None) -> SFTConfig:
    """Read the YAML recipe (a path, or a packaged recipe's name), apply overrides, validate every key;
    raise RecipeError naming file and key."""
    raw: dict[str, Any] = {}
    where = "command line"
    if path is not None:
        path = resolve_file("recipes", path)
        where = str(path)
        try:
            raw = read_yaml(path) or {}
        except DataError as e:  # broken YAML or not UTF-8: one line naming file and line
            raise RecipeError(str(e)) from None
        if not isinstance(raw, dict):
            raise RecipeError(f"{path}: a recipe is a mapping of key: value, got {type(raw).__name__}")
    overrides = overrides or {}
    # every problem of the file and of the command line at once, each naming where it is (augmath.typed_yaml)
    problems = check(SFTConfig, raw, where) + check(SFTConfig, overrides, "command line")
    if problems:
        raise RecipeError("\n".join(problems))
    values = {**raw, **overrides}
    missing = [k for k in REQUIRED if not values.get(k)]
    if missing:
        raise RecipeError(f"{where}: missing required key(s) {', '.join(missing)}")
    cfg = build(SFTConfig, values)
    validate(cfg, where)
    return cfg


def validate(cfg: SFTConfig, where: str = "recipe") -> None:
    for key, choices in CHOICES.items():
        if getattr(cfg, key) not in choices:
            raise RecipeError(f"{where}: '{key}' is {getattr(cfg, key)!r}; valid: {', '.join(map(str, choices))}")
    for key in POSITIVE:
        if getattr(cfg, key) <= 0:
            raise RecipeError(f"{where}: '{key}' must be > 0, got {getattr(cfg, key)}")
    for key in NON_NEGATIVE:
        if getattr(cfg, key) < 0:
            raise RecipeError(f"{where}: '{key}' must be >= 0, got {getattr(cfg, key)}")
    if cfg.warmup_ratio >= 1:
        raise RecipeError(f"{where}: 'warmup_ratio' must be < 1, got {cfg.warmup_ratio}")
    if cfg.num_samples is not None and cfg.num_samples <= 0:
        raise RecipeError(f"{where}: 'num_samples' must be > 0 (or null for all rows), got {cfg.num_samples}")
    _validate_subset(cfg.to_dict(), where, "")
    if cfg.num_samples is not None and cfg.num_queries is not None:
        raise RecipeError(f"{where}: give either 'num_queries' (whole queries) or 'num_samples' (rows), not both")
    if cfg.dataset_parts is not None:
        _validate_parts(cfg, where)
    if cfg.dataset_mixture is not None:
        if cfg.dataset_config is not None:
            raise RecipeError(f"{where}: give either 'dataset_config' or 'dataset_mixture', not both")
        if not cfg.dataset_mixture:
            raise RecipeError(f"{where}: 'dataset_mixture' is empty")
        by_query = [k for k in ("num_queries", "paths_per_query", "rounds") if getattr(cfg, k) is not None]
        if by_query:
            raise RecipeError(f"{where}: 'dataset_mixture' splits rows by weight; for {', '.join(by_query)} "
                              "use 'dataset_parts' (each part its own nested subset)")
        for name, weight in cfg.dataset_mixture.items():
            if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight <= 0:
                raise RecipeError(f"{where}: dataset_mixture weight of '{name}' must be a number > 0, got {weight!r}")
    if not (isinstance(cfg.lora_target_modules, str) or (isinstance(cfg.lora_target_modules, list)
                                                         and all(isinstance(m, str) for m in cfg.lora_target_modules))):
        raise RecipeError(f"{where}: 'lora_target_modules' must be a string or a list of module names")


PART_KEYS = ("config", "num_queries", "paths_per_query", "rounds")


def _validate_subset(values: dict, where: str, prefix: str) -> None:
    """num_queries / paths_per_query: positive ints or null; rounds: a non-empty list of round numbers >= 0."""
    for key in ("num_queries", "paths_per_query"):
        value = values.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
            raise RecipeError(f"{where}: '{prefix}{key}' must be an integer > 0 (or null for all), got {value!r}")
    rounds = values.get("rounds")
    if rounds is not None and (not isinstance(rounds, list) or not rounds or
                               not all(isinstance(r, int) and not isinstance(r, bool) and r >= 0 for r in rounds)):
        raise RecipeError(f"{where}: '{prefix}rounds' must be a non-empty list of round numbers >= 0, got {rounds!r}")


def _validate_parts(cfg: SFTConfig, where: str) -> None:
    clash = [k for k in DATA_KEYS if k != "dataset_parts" and getattr(cfg, k) is not None]
    if clash:
        raise RecipeError(f"{where}: 'dataset_parts' replaces {', '.join(repr(k) for k in clash)}; give each "
                          "part its own num_queries / paths_per_query / rounds")
    if not cfg.dataset_parts:
        raise RecipeError(f"{where}: 'dataset_parts' is empty")
    seen = set()
    for i, part in enumerate(cfg.dataset_parts):
        if not isinstance(part, dict) or not isinstance(part.get("config"), str) or not part["config"]:
            raise RecipeError(f"{where}: dataset_parts[{i}] must be a mapping with a 'config' name, got {part!r}")
        unknown = sorted(set(part) - set(PART_KEYS))
        if unknown:
            raise RecipeError(f"{where}: dataset_parts[{i}] has unknown key(s) {unknown}; "
                              f"valid: {', '.join(PART_KEYS)}")
        if part["config"] in seen:
            raise RecipeError(f"{where}: dataset_parts names config {part['config']!r} twice")
        seen.add(part["config"])
        _validate_subset(part, where, f"dataset_parts[{i}].")


def training_differences(old: dict[str, Any], new: SFTConfig) -> list[str]:
    """Keys (other than logging/checkpoint cadence) whose value differs from the recipe a checkpoint was made with."""
    current = new.to_dict()
    return sorted(k for k in set(old) | set(current)
                  if k not in RESUMABLE_CHANGES and old.get(k) != current.get(k))
