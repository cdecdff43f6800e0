"""`augmath eval` end to end through lighteval's accelerate backend, on a tiny Llama trained for the occasion.

The tiny model is fine-tuned (a few steps of real SFT on the training prompt) to answer "The answer is 7." to
any question; then retrained in place to answer 9. Scoring the retrained folder must show 9s: lighteval's answer
cache, keyed on settings rather than weights, must not hand back the 7s (../shared/notes/stack.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from augmath import sources
from augmath.cli import main
from augmath.prompts import format_prompt
from augmath.analysis.results import load_results
from augmath.tiny import make_tiny_llama

pytestmark = pytest.mark.slow
TASKS = "gsm8k,math500,svamp"


def train_constant_answer(path: Path, answer: int, steps: int = 40) -> None:
    """Real SFT steps, loss on the response only, so the model says 'The answer is {answer}.' and stops."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 100K-parameter model: more threads only fight over the shared cores
    torch.manual_seed(0)
    try:
        tok = AutoTokenizer.from_pretrained(path)
        tok.padding_side = "left"
        model = AutoModelForCausalLM.from_pretrained(path)
        prompts = [format_prompt(r.question) for r in sources.load("gsm8k", "test", data_dir="packaged", limit=4)]
        batch = tok([p + f" The answer is {answer}." + tok.eos_token for p in prompts], return_tensors="pt",
                    padding=True)
        labels = batch["input_ids"].clone()
        for i, prompt in enumerate(prompts):  # mask padding + prompt
            labels[i, : int((batch["attention_mask"][i] == 0).sum()) + len(tok(prompt)["input_ids"])] = -100
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
        model.train()
        for _ in range(steps):
            model(**batch, labels=labels).loss.backward()
            opt.step()
            opt.zero_grad()
        model.save_pretrained(path)  # in place: same path, new weights
    finally:
        torch.set_num_threads(threads)


def run_eval(model: Path, out: Path, *extra: str) -> dict:
    code = main(["eval", "--model", str(model), "--tasks", TASKS, "--max-samples", "3", "--max-new-tokens", "12",
                 "--data-dir", "packaged", "--batch-size", "3", "--quiet", "--out", str(out), *extra])
    assert code == 0, (out / "lighteval" / "lighteval.log").read_text()[-3000:]
    return json.loads((out / "results.json").read_text())


def details(out: Path, task: str) -> list[dict]:
    return [json.loads(line) for line in (out / "details" / f"{task}.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval_accelerate")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUGMATH_CACHE", str(root / "cache"))
        mp.setenv("AUGMATH_EVAL_DATA_ROOT", str(root / "eval_data"))
        model = make_tiny_llama(root / "model")
        (model / "augmath_train.json").write_text(json.dumps({"dataset": "demo/aug", "config": "gsm8k-original",
                                                              "n_train": 4, "base_model": "tiny"}))
        train_constant_answer(model, 7)
        first = run_eval(model, root / "run1")
        yield {"root": root, "model": model, "first": first}


def test_results_folder_schema_and_provenance(env):
    results, out = env["first"], env["root"] / "run1"
    assert results["backend"] == "accelerate" and results["model"] == str(env["model"])
    assert results["provenance"]["config"] == "gsm8k-original"  # copied from augmath_train.json
    assert set(results["tasks"]) == {"gsm8k", "math500", "svamp"}
    folder = load_results(out)  # the analysis stages' reader accepts it
    for task in results["tasks"]:
        correct, keys = folder.correct(task)
        assert len(correct) == results["tasks"][task]["n"] == 3
        assert all(k.startswith(f"{task}/test/") for k in keys)
    assert results["settings"]["weights_sha256"] and results["settings"]["template"] == "alpaca"


def test_details_hold_the_training_prompt_output_and_verdict(env):
    out = env["root"] / "run1"
    for task in ("gsm8k", "svamp", "math500"):
        for row in details(out, task):
            assert row["prompt"] == format_prompt(row["question"])
            assert row["output"].strip().startswith("The answer is 7")
            kind = "math" if task == "math500" else "gsm8k"
            if kind == "gsm8k":
                assert row["extracted"] == "7" and row["correct"] == (row["gold"] == "7")


def test_retrained_weights_at_the_same_path_are_never_scored_with_stale_answers(env):
    root, model = env["root"], env["model"]
    before = sorted(p for p in model.iterdir())
    train_constant_answer(model, 9)  # "retrain" in place
    second = run_eval(model, root / "run2")
    log2 = (root / "run2" / "lighteval" / "lighteval.log").read_text()
    assert "Starting to process 9/9 samples" in log2  # nothing came from the cache
    assert all(r["extracted"] == "9" for r in details(root / "run2", "gsm8k"))
    assert second["settings"]["weights_sha256"] != env["first"]["settings"]["weights_sha256"]
    # Same weights again: the cache is live and its answers are these weights' answers.
    third = run_eval(model, root / "run3")
    assert "9/9 samples are cached" in (root / "run3" / "lighteval" / "lighteval.log").read_text()
    assert details(root / "run3", "gsm8k") == details(root / "run2", "gsm8k")
    assert third["tasks"] == second["tasks"]
    assert sorted(p for p in model.iterdir()) == before  # lighteval wrote nothing into the model folder
