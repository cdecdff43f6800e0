"""Real `accelerate launch -m augmath.training.sft` runs on CPU with a tiny random Llama and real GSM8K items:
the output folder and its card, resume after a kill, two gloo processes, LoRA."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from augmath.cards.model import add_eval_results
from augmath.tiny import make_tiny_llama
from augmath.training.config import RecipeError
from training_helpers import REPO, default_dataset, env, launch, load_sft_module, read_log, tiny_recipe

pytestmark = pytest.mark.slow
# 24 rows, 8 per step (2 per micro-batch -> 4 micro-batches on 1 process, 2 on each of 2), 2 epochs = 6 steps.
RUN = dict(num_samples=24, global_batch_size=8, per_device_train_batch_size=2, num_train_epochs=2, max_length=512,
           save_steps=2, learning_rate=3e-3, warmup_ratio=0.2)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("train")
    return tmp, make_tiny_llama(tmp / "tiny"), default_dataset(tmp / "ds")


@pytest.fixture(scope="module")
def baseline(setup):
    """One uninterrupted single-process run that the other tests compare against."""
    tmp, model, ds = setup
    out = tmp / "baseline"
    recipe = tiny_recipe(tmp, model, ds, out, **RUN)
    proc = launch(tmp, recipe)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return recipe, out, proc


def losses(out):
    return [row["loss"] for row in read_log(out)]


def test_output_is_a_normal_model_folder_with_log_and_record(setup, baseline):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp, base, _ = setup
    _, out, proc = baseline
    log = read_log(out)
    assert [r["step"] for r in log] == [1, 2, 3, 4, 5, 6]
    assert all(r["padding_waste"] == 0.0 and r["tokens_per_second"] > 0 for r in log)  # packed: no padding
    assert log[-1]["loss"] < log[0]["loss"]  # it learns (lr 3e-3 on a random tiny model)
    # HF schedules (as in Trainer, which MuggleMath used): warmup from 0, then cosine decay.
    # warmup_ratio 0.2 of 6 steps -> 2 warmup steps.
    lrs = [r["lr"] for r in log]
    assert lrs[0] == 0 and 0 < lrs[1] < lrs[2] == pytest.approx(3e-3) and lrs[2] > lrs[3] > lrs[4] > lrs[5]
    record = json.loads((out / "augmath_train.json").read_text())
    assert record["status"] == "complete" and record["progress"]["steps"] == 6
    assert record["progress"]["tokens_seen"] == 2 * record["tokens"]["tokens"]  # 2 epochs of every kept token
    assert record["dataset"]["config"] == "gsm8k-original" and record["dataset"]["num_samples"] == 24
    assert not (out / "checkpoints").exists()  # removed after success
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config._attn_implementation != "sdpa_varlen"
    before = AutoModelForCausalLM.from_pretrained(base)
    assert not torch.equal(model.model.embed_tokens.weight, before.model.embed_tokens.weight)
    tok = AutoTokenizer.from_pretrained(out)
    ids = tok("Below is an instruction", return_tensors="pt")
    assert model.generate(**ids, max_new_tokens=3, do_sample=False).shape[1] == ids["input_ids"].shape[1] + 3


def test_model_card_states_provenance_and_takes_eval_results(baseline):
    from huggingface_hub import ModelCard

    recipe, out, _ = baseline
    card = ModelCard.load(out / "README.md")
    assert "augmath" in card.data.tags and card.data.library_name == "transformers"
    text = card.text
    assert "`gsm8k-original`" in text and "**N (rows used):** 24" in text
    assert "(revision `1.0.0+manifest." in text  # a local folder's version comes from its manifest.json
    record = json.loads((out / "augmath_train.json").read_text())
    assert f"**Tokens seen:** {record['progress']['tokens_seen']:,}" in text
    assert "| learning rate | 0.003 |" in text and "cosine" in text and "Not evaluated yet" in text
    add_eval_results(out, {"model": str(out), "tasks": {"gsm8k": {"accuracy": 0.125, "n": 8, "stderr": 0.117}}})
    card = ModelCard.load(out / "README.md")
    [result] = card.data.eval_results
    assert (result.dataset_type, result.metric_type, result.metric_value) == ("openai/gsm8k", "accuracy", 0.125)
    assert "| gsm8k | 12.50 | 11.70 | 8 |" in card.text
    assert "model-index" in (out / "README.md").read_text()


def test_rerun_after_success_does_nothing_and_other_recipe_is_refused(baseline, capsys):
    recipe, out, _ = baseline
    sft = load_sft_module()
    mtime = (out / "model.safetensors").stat().st_mtime_ns
    assert sft.main(["--config", str(recipe)]) == 0
    assert "nothing to do" in capsys.readouterr().out
    with pytest.raises(RecipeError, match="differs in: learning_rate"):
        sft.main(["--config", str(recipe), "--learning_rate", "1e-4"])
    assert (out / "model.safetensors").stat().st_mtime_ns == mtime


def test_killed_run_resumes_with_the_same_loss_curve(setup, baseline):
    tmp, model, ds = setup
    out = tmp / "killed"
    recipe = tiny_recipe(tmp, model, ds, out, **RUN)
    proc = launch(tmp, recipe, extra_env={"AUGMATH_SFT_FAIL_AFTER_STEP": "3"}, launcher=False)
    assert proc.returncode != 0 and "exiting as if killed" in proc.stdout
    assert [p.name for p in sorted((out / "checkpoints").iterdir()) if p.name.startswith("step")] == ["step-000002"]
    assert len(read_log(out)) == 3  # step 3 was logged, but never checkpointed
    proc = launch(tmp, recipe, launcher=False)  # the very same command
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resumed from" in proc.stdout and "(step 2)" in proc.stdout
    assert [r["step"] for r in read_log(out)] == [1, 2, 3, 4, 5, 6]
    assert losses(out) == pytest.approx(losses(baseline[1]), rel=1e-5)
    assert [r["lr"] for r in read_log(out)] == pytest.approx([r["lr"] for r in read_log(baseline[1])])


def test_two_gloo_processes_train_the_same_global_batch(setup, baseline):
    tmp, model, ds = setup
    out = tmp / "two_proc"
    recipe = tiny_recipe(tmp, model, ds, out, **RUN)
    # Through `augmath train`, which must set up the multi-GPU launcher + ACCELERATE_USE_CPU on this CPU machine.
    proc = subprocess.run([sys.executable, "-m", "augmath.cli", "train", str(recipe), "--processes", "2"],
                          env=env(tmp), capture_output=True, text=True, timeout=300, cwd=REPO)
    assert "ACCELERATE_USE_CPU=true" in proc.stdout and "--multi_gpu --num_processes 2" in proc.stdout
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads((out / "augmath_train.json").read_text())
    assert record["run"]["processes"] == 2 and record["run"]["distributed_type"] == "MULTI_CPU"
    assert record["run"]["gradient_accumulation_steps"] == 2
    # Same global batches, cut differently over 2 processes: the same loss curve up to float summation order.
    assert losses(out) == pytest.approx(losses(baseline[1]), rel=2e-4)
    assert record["progress"]["tokens_seen"] == json.loads((baseline[1] / "augmath_train.json").read_text())[
        "progress"]["tokens_seen"]


def test_lora_run_saves_merged_model_and_adapter(setup):
    from transformers import AutoModelForCausalLM

    tmp, model, ds = setup
    out = tmp / "lora"
    recipe = tiny_recipe(tmp, model, ds, out, **{**RUN, "use_peft": True, "lora_r": 4, "lora_alpha": 8,
                                                 "num_train_epochs": 1, "save_steps": 0, "batching": "padded"})
    assert load_sft_module().main(["--config", str(recipe)]) == 0  # in-process: one process, no launcher
    assert (out / "adapter" / "adapter_config.json").exists()
    merged, base = AutoModelForCausalLM.from_pretrained(out), AutoModelForCausalLM.from_pretrained(model)
    q_merged = merged.model.layers[0].self_attn.q_proj.weight
    assert not torch.equal(q_merged, base.model.layers[0].self_attn.q_proj.weight)
    # LoRA leaves the embeddings alone (not a target module).
    assert torch.equal(merged.model.embed_tokens.weight, base.model.embed_tokens.weight)
    log = read_log(out)
    assert all(r["padding_waste"] >= 0 for r in log) and len(log) == 3
