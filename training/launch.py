"""`augmath train`: run augmath.training.sft under `accelerate launch` with the right launcher flags for this machine.

    augmath train smollm2_demo                                              # 1 process (CPU, or 1 GPU)
    augmath train cpu_tiny --processes 2                                    # 2 gloo processes on CPU
    augmath train my_recipe.yaml --accelerate-config fsdp_full_shard        # a file, or a packaged config's name
    augmath train RECIPE --num_samples 4000 --output_dir outputs/models/n4000   # recipe overrides
    augmath train RECIPE --dry-run                                          # print the command only

The recipe and overrides are validated here first, so a bad key fails before anything is launched. On a
machine without GPUs, several processes need the multi-GPU launcher plus ACCELERATE_USE_CPU=true (accelerate
1.15's `--cpu --num_processes 2` silently starts one process); this stage sets that up. Recipes and
accelerate configs are files, or the names of those shipped in augmath.training (training/recipes/,
training/accelerate_configs/ in the repo).
"""

from __future__ import annotations

import argparse
import os
import shlex
import socket
import subprocess
import sys

from augmath.errors import OptionError, UserError
from augmath.io import folder_lock, lock_path, read_yaml
from augmath.options import check_output_folder
from augmath.process import die_with_parent
from augmath.training.config import RecipeError, load_recipe, parse_overrides, resolve_file
from augmath.training.data import check_local_files

SFT_MODULE = "augmath.training.sft"
ERROR_FILE_ENV = "AUGMATH_TRAIN_ERROR_FILE"  # where sft.py writes a user error for this process to raise
OWN_FLAGS = {"--processes": True, "--accelerate-config": True, "--dry-run": False}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gpu_count() -> int:
    try:
        import torch

        return torch.cuda.device_count()
    except Exception:  # pragma: no cover - torch always present in the training environment
        return 0


def split_args(argv: list[str]) -> tuple[dict, list[str]]:
    """Pull this stage's own flags out of the argument list; the rest are recipe overrides."""
    own: dict = {}
    rest: list[str] = []
    i = 0
    while i < len(argv):
        flag, eq, value = argv[i].partition("=")
        if flag in OWN_FLAGS:
            if OWN_FLAGS[flag]:
                if not eq:
                    if i + 1 >= len(argv):
                        raise OptionError(f"{flag} needs a value")
                    value = argv[i + 1]
                    i += 1
                own[flag[2:].replace("-", "_")] = value
            else:
                own[flag[2:].replace("-", "_")] = True
        else:
            rest.append(argv[i])
        i += 1
    return own, rest


def build_command(recipe: str, overrides: list[str], processes: int | None = None,
                  accelerate_config: str | None = None, gpus: int | None = None) -> tuple[list[str], dict[str, str]]:
    """The `accelerate launch` argv and the extra environment it needs."""
    gpus = _gpu_count() if gpus is None else gpus
    # --quiet: when sft.py fails it prints its own one-line error; without this the launcher adds a
    # CalledProcessError traceback on top (single-process and DeepSpeed launches).
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--quiet"]
    env: dict[str, str] = {}
    if accelerate_config:
        accelerate_config = resolve_file("accelerate_configs", accelerate_config)
        config = read_yaml(accelerate_config) or {}  # duplicate keys and alias bombs refused, like any augmath YAML
        cmd += ["--config_file", str(accelerate_config)]
        if processes:
            cmd += ["--num_processes", str(processes)]
        n = processes or int(config.get("num_processes", 1))
        if gpus == 0 and config.get("distributed_type") == "MULTI_GPU" and n > 1:
            env["ACCELERATE_USE_CPU"] = "true"
            cmd += ["--main_process_port", str(_free_port())]
    else:
        n = processes or max(gpus, 1)
        if gpus == 0:
            if n > 1:
                env["ACCELERATE_USE_CPU"] = "true"
                cmd += ["--multi_gpu", "--num_processes", str(n), "--main_process_port", str(_free_port())]
            else:
                cmd += ["--cpu", "--num_processes", "1"]
        else:
            cmd += (["--multi_gpu"] if n > 1 else []) + ["--num_processes", str(n)]
            if n > 1:
                cmd += ["--main_process_port", str(_free_port())]
        cmd += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    cmd += ["-m", SFT_MODULE, "--config", str(recipe), *overrides]
    return cmd, env


def packaged_recipe_names() -> str:
    """The recipes shipped in augmath.training, by the names `augmath train` accepts: "cpu_tiny, smollm2_demo, ..."."""
    from augmath.training.config import PACKAGED

    return ", ".join(sorted(p.stem for p in (PACKAGED / "recipes").glob("*.yaml")))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help=f"training recipe: a YAML file, or a packaged recipe's name "
                                       f"({packaged_recipe_names()})")
    parser.add_argument("args", nargs=argparse.REMAINDER, metavar="...",
                        help="--processes N, --accelerate-config FILE, --dry-run, and recipe overrides --key value")


def run(args: argparse.Namespace) -> int:
    own, overrides = split_args(list(args.args))
    recipe = resolve_file("recipes", args.recipe)
    cfg = load_recipe(recipe, parse_overrides(overrides))  # a RecipeError is augmath.cli's one line
    processes = _processes(own.get("processes"))
    check_output_folder(cfg.output_dir, "--output_dir")  # a file there fails now, not after the model loads
    check_local_files(cfg.dataset)  # a truncated parquet is named here, not under the launcher's traceback
    if own.get("dry_run"):
        return _launch(str(recipe), overrides, processes, own.get("accelerate_config"), cfg.output_dir, None)
    # The output folder is ours while the training lives: a second `augmath train` into it is refused (FolderBusy)
    # before it imports anything heavy. The launcher inherits the lock and dies with us (as sft.py dies with the
    # launcher), so after a kill -9 the lock frees only once nothing of this run can still write there.
    with folder_lock(cfg.output_dir, "augmath train") as lock_fd:
        return _launch(str(recipe), overrides, processes, own.get("accelerate_config"), cfg.output_dir, lock_fd)


def _launch(recipe: str, overrides: list[str], processes: int | None, accelerate_config: str | None,
            output_dir: str, lock_fd: int | None) -> int:
    """Build and print the launch command; run it unless this is a dry run (no lock)."""
    try:
        cmd, env = build_command(recipe, overrides, processes, accelerate_config)
    except ValueError as e:  # an accelerate config that is not a mapping, a bad num_processes in it
        if isinstance(e, UserError):
            raise
        raise RecipeError(f"--accelerate-config: {e}") from None
    shown = " ".join(f"{k}={v}" for k, v in env.items()) + (" " if env else "") + shlex.join(cmd)
    print(f"augmath train: {shown}", flush=True)
    if lock_fd is None:
        return 0
    # sft.py's own user errors (a bad dataset or base model found once it loads them) come back through a file:
    # the launcher turns the child's exit status 2 into 1 and has no way to pass a message up. The file sits beside
    # the output folder's lock (held now), so a kill -9 leaves nothing elsewhere and the next run clears it.
    relay = lock_path(output_dir).with_suffix(".train-error")
    relay.unlink(missing_ok=True)
    try:
        proc = subprocess.run(cmd, env={**os.environ, **env, ERROR_FILE_ENV: str(relay)}, preexec_fn=die_with_parent,
                              pass_fds=(lock_fd,))
        if proc.returncode != 0 and relay.is_file():
            raise TrainError(relay.read_text(encoding="utf-8"))
    finally:
        relay.unlink(missing_ok=True)
    if proc.returncode == 0:
        print(f"augmath train: model in {output_dir}")
    return proc.returncode


class TrainError(UserError):
    """A user error that sft.py found under the launcher (relayed through ERROR_FILE_ENV)."""


def _processes(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise OptionError(f"--processes {value!r} is not an integer >= 1")
    return n
