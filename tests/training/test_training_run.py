"""Real `accelerate launch -m augmath.training.sft` runs on CPU with a tiny random Llama and real GSM8K items:
the output folder and its card, resume after a kill, two gloo processes, LoRA."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from augmath.cards.model import add_eval_results, training_dtype
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
    # a local dataset (built without --repo-id) is named by its folder name, never its path; its version comes
    # from its manifest.json
    assert "`ds` (a local dataset folder, not on the Hub), version `1.0.0+manifest." in text
    assert str(out.parent) not in text
    record = json.loads((out / "augmath_train.json").read_text())
    assert f"**Tokens seen:** {record['progress']['tokens_seen']:,}" in text
    assert "| learning rate | 0.003 |" in text and "cosine" in text and "Not evaluated yet" in text
    add_eval_results(out, {"model": str(out), "tasks": {"gsm8k": {"accuracy": 0.125, "n": 8, "stderr": 0.117},
                                                        "svamp": {"accuracy": 0.5, "maj@k": 0.75, "k": 4, "n": 4}},
                           "settings": {"template": "alpaca", "profile": "paper", "fewshot": 0}})
    card = ModelCard.load(out / "README.md")
    results = {(r.dataset_name, r.metric_type): r for r in card.data.eval_results}
    assert set(results) == {("GSM8K", "accuracy"), ("SVAMP", "accuracy"), ("SVAMP", "maj@4")}
    gsm8k = results[("GSM8K", "accuracy")]
    assert (gsm8k.dataset_type, gsm8k.dataset_config, gsm8k.dataset_split, gsm8k.metric_value) == \
        ("openai/gsm8k", "main", "test", 0.125)
    assert gsm8k.metric_config == "paper" and gsm8k.metric_args["template"] == "alpaca"
    assert results[("SVAMP", "maj@4")].metric_value == 0.75
    assert "| GSM8K | accuracy | 12.50% | 11.70 | 8 | paper | alpaca |" in card.text
    assert "model-index" in (out / "README.md").read_text()


@pytest.mark.parametrize("torch_dtype, mixed_precision, expected", [
    ("float32", "no", "float32"), ("float32", "bf16", "bfloat16"), ("float32", "fp16", "float16"),
    ("bfloat16", "no", "bfloat16"), ("auto", "no", None)])
def test_training_dtype_is_what_the_maths_ran_in(torch_dtype, mixed_precision, expected):
    record = {"recipe": {"torch_dtype": torch_dtype}, "run": {"mixed_precision": mixed_precision}}
    assert training_dtype(record) == expected


def test_push_stages_the_card_under_its_repo_id_with_weights_in_the_chosen_dtype(baseline, tmp_path):
    from huggingface_hub import ModelCard
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM

    from augmath.publish import hub

    _, out, _ = baseline
    source_bytes = (out / "model.safetensors").read_bytes()
    plan = hub.plan_push(out, "someorg/tiny-sft", dtype="bfloat16", stage=tmp_path)
    staged = tmp_path / "repo"
    with safe_open(staged / "model.safetensors", framework="pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"BF16"}
    assert (staged / "model.safetensors").stat().st_size < 0.6 * len(source_bytes)
    assert json.loads((staged / "config.json").read_text())["dtype"] == "bfloat16"
    assert AutoModelForCausalLM.from_pretrained(staged, dtype="auto").dtype == torch.bfloat16
    card = ModelCard.load(staged / "README.md")
    assert card.data.model_name == "someorg/tiny-sft" and card.text.startswith("\n# tiny-sft\n")
    assert "**Weights:** bfloat16 safetensors, cast from the float32 weights" in card.text
    assert plan.message.startswith("augmath: model tiny-sft (SFT of tiny on local ds gsm8k-original N=24;")
    assert plan.message.endswith("; bfloat16 weights)")
    published = json.loads((staged / "augmath_train.json").read_text())
    assert published["recipe"]["output_dir"] == "someorg/tiny-sft" and published["recipe"]["dataset"] == "ds"
    for text in (card.content, plan.message, json.dumps(published)):
        assert str(out.parent) not in text  # no local path anywhere it names things
    # the trained folder itself is untouched: same weights, its card still local
    assert (out / "model.safetensors").read_bytes() == source_bytes
    assert "someorg" not in (out / "README.md").read_text()
    # auto: the training dtype (float32 here, no autocast), so the weights go up as saved, no cast
    auto = hub.plan_push(out, "someorg/tiny-sft")
    assert auto.weights == {"dtype": "float32", "cast_from": None} and auto.temporary
    hub.discard(auto)
    assert not auto.folder.exists()


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
