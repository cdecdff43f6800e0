"""Supervised fine-tuning for augmath (MuggleMath's recipe), from one CPU to many GPUs under `accelerate launch`.

    accelerate launch -m augmath.training.sft --config cpu_tiny [--key value ...]
    ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes 2 -m augmath.training.sft --config ...  # 2 CPU procs
    accelerate launch --config_file training/accelerate_configs/fsdp_full_shard.yaml \
        -m augmath.training.sft --config paper_llama2_7b_fsdp
    augmath train cpu_tiny                            # builds and runs the accelerate command for you

--config is a YAML file or the name of a packaged recipe (training/recipes/). The recipe (training/config.py) names the base model, dataset (+config / N / mixture), prompt template and
hyperparameters; `--key value` overrides any key. Running the same command again after a kill resumes from the
newest checkpoint in OUTPUT_DIR/checkpoints; running it after success does nothing.
Output: OUTPUT_DIR = an HF model folder + README.md card + augmath_train.json + training_log.jsonl.
"""

from __future__ import annotations

if __name__ == "__main__":  # first, before the heavy imports: a killed launcher (augmath train) takes us with it
    from augmath.process import exit_with_parent

    exit_with_parent()

import argparse
import math
import os
import shutil
import sys
import time
from pathlib import Path

import torch
from accelerate import Accelerator, PartialState
from accelerate.utils import DistributedType, parse_flag_from_env, set_seed

from augmath.errors import UserError
from augmath.io import write_json_atomic
from augmath.cards import render_model_card
from augmath.models import check_causal_lm, resolve_model
from augmath.training.packing import (VARLEN, Schedule, collate_packed, collate_padded, loss_sum, plan_step,
                             register_varlen_attention)
from augmath.training.config import RecipeError, SFTConfig, load_recipe, parse_overrides, training_differences
from augmath.training.data import DatasetError, load_rows, tokenize_rows
from augmath.training.state import (TrainCounters, base_model_info, latest_checkpoint, log_row, read_recipe, save_checkpoint,
                               start_log, write_recipe)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "auto": "auto"}
# Fault injection for the resume test: exit abruptly (no final save) right after this optimizer step.
FAIL_AFTER_ENV = "AUGMATH_SFT_FAIL_AFTER_STEP"


class LaunchError(UserError, RuntimeError):
    """The processes accelerate launched do not form the distributed group they should."""


def parse_args(argv: list[str] | None) -> SFTConfig:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], usage="%(prog)s --config RECIPE [--key value ...]")
    from augmath.training.launch import packaged_recipe_names

    parser.add_argument("--config", required=True,
                        help=f"recipe YAML, or a packaged recipe's name ({packaged_recipe_names()})")
    args, rest = parser.parse_known_args(argv)
    return load_recipe(args.config, parse_overrides(rest))


def trackers(report_to) -> list[str]:
    """`auto`: tensorboard when installed (offline-safe); `none`; or the named accelerate trackers."""
    if report_to in (None, "none", [], "auto"):
        from accelerate.utils import is_tensorboard_available

        return ["tensorboard"] if report_to == "auto" and is_tensorboard_available() else []
    return [report_to] if isinstance(report_to, str) else list(report_to)


def finished(out: Path, cfg: SFTConfig) -> bool:
    """True if OUTPUT_DIR already holds this recipe's model; an error if it holds another recipe's."""
    record = out / "augmath_train.json"
    if not record.exists():
        return False
    import json

    diff = training_differences(json.loads(record.read_text())["recipe"], cfg)
    if diff:
        raise RecipeError(f"{out} already holds a model trained with a different recipe (differs in: "
                          f"{', '.join(diff)}); choose another output_dir")
    return True


def build_model(cfg: SFTConfig, base: str):
    from transformers import AutoModelForCausalLM

    attn = cfg.attn_implementation
    if cfg.batching == "packed" and attn == "sdpa" and cfg.packed_attention == "varlen":
        attn = register_varlen_attention()
    model = AutoModelForCausalLM.from_pretrained(base, dtype=DTYPES[cfg.torch_dtype], attn_implementation=attn)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if cfg.use_peft:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(
            r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout, task_type="CAUSAL_LM",
            target_modules=cfg.lora_target_modules))
    return model


def build_optimizer(cfg: SFTConfig, model) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)  # no weight decay on norms and biases (HF convention)
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=cfg.learning_rate, betas=(cfg.adam_beta1, cfg.adam_beta2), eps=cfg.adam_epsilon)


def main(argv: list[str] | None = None) -> int:
    # ---- Recipe: every key checked before anything heavy ----
    cfg = parse_args(argv)
    out = Path(cfg.output_dir)
    ckpt_dir = out / "checkpoints"
    # ACCELERATE_USE_CPU is read by Accelerator but not by PartialState: pass it on, or the first PartialState
    # would set up a non-distributed state and two launched CPU processes would each train alone.
    state = PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"))
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if state.num_processes != launched:
        raise LaunchError(f"{launched} processes were launched but accelerate sees {state.num_processes}: on CPU, "
                          f"launch with ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes N")
    if finished(out, cfg):
        state.print(f"{out} already holds the model for this recipe; nothing to do")
        return 0

    # ---- Accelerator: world size fixes the accumulation that makes up the global batch ----
    world = state.num_processes
    accum = max(1, math.ceil(cfg.global_batch_size / (world * cfg.per_device_train_batch_size)))
    accelerator = Accelerator(gradient_accumulation_steps=accum, mixed_precision=cfg.mixed_precision,
                              step_scheduler_with_optimizer=False, log_with=trackers(cfg.report_to) or None,
                              project_dir=str(out))
    if accelerator.state.deepspeed_plugin is not None:  # no prepared dataloader to take the micro-batch size from
        accelerator.state.deepspeed_plugin.deepspeed_config["train_micro_batch_size_per_gpu"] = cfg.per_device_train_batch_size
    set_seed(cfg.seed)

    # ---- Base model and data: clear errors before the weights are loaded ----
    with accelerator.main_process_first():
        base = resolve_model(cfg.model_name_or_path)
        check_causal_lm(base)
        rows, dataset_info = load_rows(cfg)  # the main process fills the datasets cache, the others reuse it
    from transformers import AutoTokenizer, get_scheduler

    tokenizer = AutoTokenizer.from_pretrained(base)
    examples, stats = tokenize_rows(rows, tokenizer, cfg.prompt_template, cfg.max_length, cfg.overlong)
    if not examples:
        raise DatasetError(f"all {stats.rows} examples are longer than max_length={cfg.max_length} "
                           f"(prompt too long: {stats.dropped_prompt_too_long}, dropped: {stats.dropped_overlong})")
    lengths = [len(e) for e in examples]
    n_targets = [sum(t != -100 for t in e.labels) for e in examples]  # tokens with loss, per example
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    accelerator.print(f"data: {stats.kept:,} examples from {dataset_info['id']} ({stats.truncated} truncated, "
                      f"{stats.dropped_overlong + stats.dropped_prompt_too_long} dropped), {stats.tokens:,} tokens/epoch")

    # ---- Model, optimizer, schedule ----
    model = build_model(cfg, base)
    fsdp1 = accelerator.distributed_type == DistributedType.FSDP and not accelerator.is_fsdp2
    if fsdp1:  # FSDP1 replaces parameters when wrapping: build the optimizer on the wrapped ones (as Trainer does)
        model = accelerator.prepare(model)
    optimizer = build_optimizer(cfg, model)
    schedule = Schedule(len(examples), cfg.global_batch_size, cfg.num_train_epochs, cfg.max_steps, cfg.seed)
    scheduler = get_scheduler(cfg.lr_scheduler_type, optimizer,
                              num_warmup_steps=math.ceil(cfg.warmup_ratio * schedule.total_steps),
                              num_training_steps=schedule.total_steps)
    if fsdp1:
        optimizer, scheduler = accelerator.prepare(optimizer, scheduler)
    else:  # DDP, DeepSpeed, FSDP2: model and optimizer prepared together
        model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    progress = TrainCounters()
    accelerator.register_for_checkpointing(progress)

    # ---- Resume: the newest complete checkpoint, if its recipe matches ----
    last = latest_checkpoint(ckpt_dir)
    if last is not None:
        diff = training_differences(read_recipe(ckpt_dir) or {}, cfg)
        if diff:
            raise RecipeError(f"{ckpt_dir} was written by a different recipe (differs in: {', '.join(diff)}); "
                              f"use the same recipe to resume, or another output_dir")
        accelerator.load_state(str(last[1]))
        accelerator.print(f"resumed from {last[1]} (step {progress.step})")
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        if last is None:
            write_recipe(ckpt_dir, cfg.to_dict())
        log_path = start_log(out, progress.step)
    accelerator.init_trackers("augmath-sft", config={k: v for k, v in cfg.to_dict().items()
                                                     if isinstance(v, (int, float, str, bool))})

    # ---- Train ----
    collate = collate_packed if cfg.batching == "packed" else collate_padded
    fail_after = int(os.environ.get(FAIL_AFTER_ENV, "0"))
    rank = accelerator.process_index
    model.train()
    accelerator.print(f"training: {schedule.total_steps} steps x {cfg.global_batch_size} samples "
                      f"({world} process(es) x {accum} micro-batches), {cfg.batching} batching")
    while progress.step < schedule.total_steps:
        t0, c0 = time.perf_counter(), time.process_time()
        batch_ids = schedule.batch(progress.step)
        micro = plan_step(batch_ids, lengths, world, accum)[rank]
        n_loss = sum(n_targets[i] for i in batch_ids)  # loss tokens of the whole global batch (all ranks)
        local = torch.zeros(3, dtype=torch.float64)  # loss sum, real tokens, computed positions
        accelerator.step = 0
        for ids in micro:
            batch = collate([examples[i] for i in ids], pad_id)
            with accelerator.accumulate(model):
                tensors = {k: (v.to(accelerator.device) if torch.is_tensor(v) else v) for k, v in batch.items()}
                loss = loss_sum(model, tensors) / n_loss
                # Divided by n_loss (the whole global batch); accelerate divides by `accum` and DDP averages over
                # processes: undo both so the step's gradient is that of the global-batch mean.
                accelerator.backward(loss * accum * world)
                local += torch.tensor([loss.item() * n_loss, sum(len(examples[i]) for i in ids),
                                       batch["input_ids"].numel()], dtype=torch.float64)
        if not accelerator.sync_gradients:
            raise RuntimeError("gradient accumulation is out of step with the batch plan")
        grad_norm = accelerator.clip_grad_norm_(model.parameters(), cfg.max_grad_norm) if cfg.max_grad_norm > 0 else None
        lr = scheduler.get_last_lr()[0]  # the rate this step used
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        total = accelerator.reduce(local.to(accelerator.device), reduction="sum").cpu()
        seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
        progress.step += 1
        progress.tokens_seen += int(total[1])
        progress.response_tokens_seen += n_loss
        progress.computed_tokens += int(total[2])
        progress.train_seconds += seconds
        progress.cpu_seconds += cpu_seconds
        progress.last_loss = float(total[0]) / max(n_loss, 1)
        if progress.step % cfg.logging_steps == 0 or progress.step == schedule.total_steps:
            row = {"step": progress.step, "epoch": round(progress.step / schedule.steps_per_epoch, 4),
                   "loss": progress.last_loss, "lr": lr,
                   "grad_norm": None if grad_norm is None else float(grad_norm),
                   "tokens": int(total[1]), "tokens_per_second": round(total[1].item() / seconds, 1),
                   "padding_waste": round(1 - total[1].item() / total[2].item(), 4),
                   "tokens_seen": progress.tokens_seen, "seconds": round(seconds, 3),
                   "cpu_seconds": round(cpu_seconds, 3)}
            accelerator.log(row, step=progress.step)
            if accelerator.is_main_process:
                log_row(log_path, row)
            accelerator.print(f"step {progress.step}/{schedule.total_steps} | loss {row['loss']:.4f} | "
                              f"lr {row['lr']:.3g} | {row['tokens_per_second']:,.0f} tok/s | epoch {row['epoch']:.2f}")
        if cfg.save_steps and progress.step % cfg.save_steps == 0 and progress.step < schedule.total_steps:
            save_checkpoint(accelerator, ckpt_dir, progress.step, cfg.save_total_limit)
        if fail_after and progress.step == fail_after:
            accelerator.print(f"{FAIL_AFTER_ENV}={fail_after}: exiting as if killed")
            sys.stdout.flush()
            os._exit(137)

    # ---- Save: HF folder, tokenizer, augmath_train.json, card ----
    accelerator.wait_for_everyone()
    state_dict = accelerator.get_state_dict(model)  # a collective under FSDP / ZeRO-3
    if accelerator.is_main_process:
        save_final(accelerator, cfg, model, state_dict, tokenizer, out, base, dataset_info, stats, progress, world, accum)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return 0


def save_final(accelerator, cfg, model, state_dict, tokenizer, out, base, dataset_info, stats, progress, world, accum):
    unwrapped = accelerator.unwrap_model(model)
    if cfg.use_peft:  # a normal model folder: merge LoRA into the weights, keep the adapter beside it
        unwrapped.save_pretrained(out / "adapter")
        unwrapped = unwrapped.merge_and_unload()
        state_dict = None
    if unwrapped.config._attn_implementation == VARLEN:  # a training-time kernel: the saved model uses plain sdpa
        unwrapped.config._attn_implementation = "sdpa"
    unwrapped.save_pretrained(out, state_dict=state_dict, safe_serialization=True)
    tokenizer.save_pretrained(out)
    record = {
        "status": "complete", "recipe": cfg.to_dict(), "base_model": base_model_info(cfg.model_name_or_path, base),
        "dataset": dataset_info, "tokens": stats.to_dict(),
        "progress": {"steps": progress.step, "tokens_seen": progress.tokens_seen,
                     "response_tokens_seen": progress.response_tokens_seen,
                     "computed_tokens": progress.computed_tokens, "final_loss": progress.last_loss,
                     "train_seconds": round(progress.train_seconds, 2),
                     "cpu_seconds": round(progress.cpu_seconds, 2),
                     "tokens_per_second": round(progress.tokens_seen / max(progress.train_seconds, 1e-9), 1)},
        "run": {"processes": world, "gradient_accumulation_steps": accum, "device": accelerator.device.type,
                "distributed_type": accelerator.distributed_type.value, "mixed_precision": accelerator.mixed_precision,
                "torch": torch.__version__, "transformers": __import__("transformers").__version__},
    }
    write_json_atomic(out / "augmath_train.json", record)  # written last among the model files: marks completion
    render_model_card(out)
    if not cfg.keep_checkpoints:
        shutil.rmtree(out / "checkpoints", ignore_errors=True)
    accelerator.print(f"saved {out} ({progress.step} steps, {progress.tokens_seen:,} tokens, "
                      f"final loss {progress.last_loss:.4f})")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as e:  # RecipeError, DatasetError, BaseModelError, LaunchError
        relay = os.environ.get("AUGMATH_TRAIN_ERROR_FILE")  # set by `augmath train` (launch.py), which raises it
        if relay:
            Path(relay).write_text(str(e), encoding="utf-8")
            sys.exit(2)
        from augmath.errors import user_error

        sys.exit(user_error("train", e, prog="python -m augmath.training.sft"))
