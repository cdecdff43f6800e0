"""The likelihood tasks (gsm8k_bpb, ...): reference texts, the Doc lighteval scores, the metric, bad input, and the
number itself against a computation by hand with plain transformers on a tiny model (to 1e-4)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from augmath import grading, sources
from augmath.evalsets import EVAL_TASKS, LIKELIHOOD_TASKS, eval_task
from augmath.cli import main
from augmath.eval_tasks import inputs, likelihood
from augmath.eval_tasks import run as evaluation
from augmath.eval_tasks.results import EvalOutputError, likelihood_task
from augmath.prompts import format_prompt
from eval_fixtures import eval_folders, full_data_dir, load_task_module, rows, settings_file  # noqa: F401

EOS = "<|im_end|>"


# ------------------------------------------------------------------------------------------ references

@pytest.mark.parametrize("equation, answer, expected", [
    ("( 76.0 - 25.0 )", "51", "76 - 25 = <<76-25=51>>51\n#### 51"),
    ("( ( 8.0 + 3.0 ) * 5.0 )", "55", "(8 + 3) * 5 = <<(8+3)*5=55>>55\n#### 55"),
    ("( 6.0 - ( 3.0 + 2.0 ) )", "1", "6 - (3 + 2) = <<6-(3+2)=1>>1\n#### 1"),
    ("( 7.0 / 2.0 )", "3.5", "7 / 2 = <<7/2=3.5>>3.5\n#### 3.5"),
    ("( 4.0 + 2.0 ) - ( 1.0 + 1.0 )", "4", "(4 + 2) - (1 + 1) = <<(4+2)-(1+1)=4>>4\n#### 4"),
    ("5.0", "5", "#### 5"),
])
def test_svamp_reference_is_its_equation_in_gsm8k_format(equation, answer, expected):
    assert likelihood.svamp_reference(equation, answer) == expected


def test_every_svamp_reference_grades_to_its_own_answer():
    """All 1,000 real SVAMP items: the written-out reference states the dataset's answer (graded as GSM8K)."""
    records = sources.load("svamp", "test", data_dir=full_data_dir())
    assert len(records) == 1000
    for r in records:
        line = {"id": r.id, "question": r.question, "solution": r.solution, "answer": r.answer,
                "meta": json.dumps(r.meta)}
        reference = likelihood.reference_solution(line, "svamp")
        assert grading.grade(r.answer, reference, "gsm8k").correct, (r.id, reference)
        assert "<<" in reference or reference.startswith("####")


def test_gsm8k_and_math_references_are_the_solutions_verbatim():
    g = sources.load("gsm8k", "test", data_dir="packaged")[0]
    ref = likelihood.reference_solution({"id": g.id, "solution": g.solution}, "gsm8k")
    assert ref == g.solution and "<<" in ref and "####" in ref  # calculator annotations kept, as trained
    m = sources.load("math500", "test", data_dir="packaged")[0]
    assert likelihood.reference_solution({"id": m.id, "solution": m.solution}, "math500") == m.solution
    with pytest.raises(likelihood.NoReference):
        likelihood.reference_solution({"id": "x", "solution": " \n"}, "gsm8k")


# ------------------------------------------------------------------------------------ tasks and docs

@pytest.mark.parametrize("name", list(LIKELIHOOD_TASKS))
def test_likelihood_docs_score_reference_plus_eos_after_the_training_prompt(name, eval_folders):
    from lighteval.tasks.prompt_manager import PromptManager

    bench = eval_task(name).benchmark.name
    module = load_task_module(bench, eval_folders, eos_token=EOS)
    config = next(c for c in module.TASKS_TABLE if c.name == f"augmath_{name}")
    assert config.hf_repo == eval_folders[bench] and [m.category.value for m in config.metrics] == ["LOGPROBS"]
    with settings_file(tasks=eval_folders, eos_token=EOS):
        for i, row in enumerate(rows(eval_folders[bench])[:5]):
            doc = config.prompt_function({**row, "__few_shots": False}, config.name)
            reference = doc.specific["reference"]
            assert doc.choices == [reference + EOS] and doc.gold_index == 0
            assert doc.specific["reference_bytes"] == len(reference.encode("utf-8"))
            # lighteval's prompt is the training prompt, byte for byte, and ends where training's response starts
            assert PromptManager(use_chat_template=False).prepare_prompt(doc) == format_prompt(row["question"])


def test_tasks_table_holds_only_the_selected_tasks(eval_folders):
    import importlib

    import augmath.eval_tasks as package

    with settings_file(tasks={"gsm8k_bpb": eval_folders["gsm8k"], "svamp": eval_folders["svamp"]}, eos_token=EOS):
        table = importlib.reload(package)._tasks_table()
    assert [c.name for c in table] == ["augmath_gsm8k_bpb", "augmath_svamp"]
    assert table[0].hf_repo == eval_folders["gsm8k"]


def test_docs_without_an_eos_token_fail_clearly(eval_folders):
    module = load_task_module("gsm8k", eval_folders)
    config = module.TASKS_TABLE[1]
    with settings_file(tasks=eval_folders), pytest.raises(RuntimeError, match="end-of-sequence token"):
        config.prompt_function({**rows(eval_folders["gsm8k"])[0], "__few_shots": False}, config.name)


def test_metric_from_a_model_response():
    from lighteval.models.model_output import ModelResponse
    from lighteval.tasks.requests import Doc

    doc = Doc(query="q", choices=["abc" + EOS], gold_index=0, specific={"reference_bytes": 3})
    # lighteval's transformers backend pads the continuation tokens with -1
    response = ModelResponse(logprobs=[-6.0], output_tokens=[[11, 12, 2, -1]])
    values = likelihood.ReferenceLikelihood().compute(doc=doc, model_response=response)
    assert values == {"bpb": pytest.approx(6.0 / math.log(2) / 3), "nll_per_token": pytest.approx(2.0),
                      "nll": 6.0, "tokens": 3, "bytes": 3}
    with pytest.raises(ValueError, match="no log-likelihood"):
        likelihood.ReferenceLikelihood().compute(doc=doc, model_response=ModelResponse(logprobs=[]))


def test_results_refuse_values_that_disagree_with_their_recomputation(tmp_path):
    spec = {"id": "gsm8k/test/0", "kind": "gsm8k", "question": "q", "metric": "bpb", "reference": "abcd"}
    good = {"nll": 2.0, "tokens": 2, "bytes": 4, "bpb": 2.0 / math.log(2) / 4, "nll_per_token": 1.0}
    details, summary = likelihood_task([{"specific": spec, "metric": good, "prompt": "p"}], "augmath_gsm8k_bpb",
                                       tmp_path)
    assert summary["bpb"] == pytest.approx(good["bpb"]) and summary["n"] == 1 and details[0]["reference"] == "abcd"
    with pytest.raises(EvalOutputError, match="differ from their recomputation"):
        likelihood_task([{"specific": spec, "metric": {**good, "bpb": 0.1}, "prompt": "p"}], "t", tmp_path)


# ------------------------------------------------------------------------------------------ bad input

def _eval(argv, capsys):
    code = main(["eval", *argv])
    return code, capsys.readouterr().err


def test_task_names_and_their_errors(capsys, tmp_path):
    assert evaluation.parse_tasks("gsm8k,gsm8k_bpb,svamp_bpb") == ["gsm8k", "gsm8k_bpb", "svamp_bpb"]
    assert set(LIKELIHOOD_TASKS) < set(EVAL_TASKS)
    code, err = _eval(["--model", str(tmp_path), "--tasks", "gsm8k_bpd", "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "unknown task(s) 'gsm8k_bpd'" in err and "gsm8k_bpb" in err and "svamp_bpb" in err
    code, err = _eval(["--model", str(tmp_path), "--tasks", "mawps_bpb", "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "mawps has no reference solution" in err and "math500_bpb" in err


@pytest.mark.parametrize("extra, message", [
    (["--backend", "endpoint", "--base-url", "http://127.0.0.1:9/v1"], "cannot score gsm8k_bpb"),
    (["--template", "chat"], "--template chat is not supported"),
    (["--fewshot", "2"], "zero-shot"),
])
def test_likelihood_requests_that_cannot_run_fail_before_anything_loads(extra, message, tmp_path):
    code = ("import sys; from augmath.cli import main; "
            f"rc = main(['eval', '--model', {str(tmp_path)!r}, '--tasks', 'gsm8k,gsm8k_bpb', '--out', "
            f"{str(tmp_path / 'o')!r}, *{extra!r}]); "
            "heavy = [m for m in ('lighteval', 'torch', 'transformers', 'openai') if m in sys.modules]; "
            "print(rc, heavy); sys.exit(0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "2 []", out.stdout + out.stderr
    assert message in out.stderr
    assert "unreachable" not in out.stderr  # the endpoint was never contacted
    assert not (tmp_path / "o").exists()


def test_model_without_a_tokenizer_fails_before_lighteval(tmp_path, capsys):
    from augmath.tiny import make_tiny_llama

    model = make_tiny_llama(tmp_path / "tiny")
    for f in model.iterdir():
        if "token" in f.name or f.suffix in (".jinja",):
            f.unlink()
    code, err = _eval(["--model", str(model), "--tasks", "gsm8k_bpb", "--data-dir", "packaged",
                       "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "no usable tokenizer" in err and "likelihood" in err
    assert not (tmp_path / "o" / "lighteval" / "lighteval.log").exists()


# ------------------------------------------------------------- the number, against plain transformers

def by_hand(model_dir: Path, question: str, reference: str) -> dict:
    """NLL of reference + eos after the Alpaca prompt, tokenized exactly as training does (prompt alone with the
    tokenizer's special tokens, response alone without, then eos), fp32, one sequence at a time."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    prompt = tok(format_prompt(question), add_special_tokens=True)["input_ids"]
    cont = tok(reference, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    with torch.inference_mode():
        logits = model(torch.tensor([prompt + cont])).logits[0].float()
    logp = torch.log_softmax(logits, dim=-1)[len(prompt) - 1: len(prompt) + len(cont) - 1]
    nll = -float(logp[torch.arange(len(cont)), torch.tensor(cont)].sum())
    nbytes = len(reference.encode("utf-8"))
    return {"nll": nll, "tokens": len(cont), "bpb": nll / math.log(2) / nbytes, "nll_per_token": nll / len(cont)}


@pytest.mark.slow
def test_bits_per_byte_matches_a_hand_computation_with_transformers(tmp_path, monkeypatch):
    from augmath.tiny import make_tiny_llama

    monkeypatch.setenv("AUGMATH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("AUGMATH_EVAL_DATA_ROOT", str(tmp_path / "eval_data"))
    model = make_tiny_llama(tmp_path / "tiny")
    out = tmp_path / "r"
    # a generative task in the same lighteval run: both request kinds go through one pipeline
    code = main(["eval", "--model", str(model), "--tasks", "gsm8k_bpb,svamp_bpb,math500_bpb,gsm8k",
                 "--max-samples", "4", "--max-new-tokens", "4", "--data-dir", "packaged", "--batch-size", "8",
                 "--quiet", "--out", str(out)])
    assert code == 0, (out / "lighteval" / "lighteval.log").read_text()[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["tasks"]["gsm8k"]["n"] == 4 and "accuracy" in results["tasks"]["gsm8k"]
    assert results["settings"]["eos_token"] == EOS
    for task in ("gsm8k_bpb", "svamp_bpb", "math500_bpb"):
        summary = results["tasks"][task]
        assert summary["metric"] == "bpb" and summary["task"] == f"augmath_{task}" and summary["n"] == 4
        details = [json.loads(line) for line in (out / "details" / f"{task}.jsonl").read_text().splitlines()]
        assert len(details) == 4
        for row in details:
            hand = by_hand(model, row["question"], row["reference"])
            assert row["tokens"] == hand["tokens"]
            assert row["bpb"] == pytest.approx(hand["bpb"], abs=1e-4)
            assert row["nll_per_token"] == pytest.approx(hand["nll_per_token"], abs=1e-4)
            assert row["bytes"] == len(row["reference"].encode("utf-8"))
            assert row["prompt"] == format_prompt(row["question"])
        assert summary["bpb"] == pytest.approx(np.mean([d["bpb"] for d in details]), abs=1e-12)
        lo, hi = summary["bpb_ci"]
        assert lo <= summary["bpb"] <= hi
    # the same items as the generative task (lighteval's fixed shuffle): the two can be read side by side
    gen_ids = [json.loads(line)["id"] for line in (out / "details" / "gsm8k.jsonl").read_text().splitlines()]
    bpb_ids = [json.loads(line)["id"] for line in (out / "details" / "gsm8k_bpb.jsonl").read_text().splitlines()]
    assert sorted(gen_ids) == sorted(bpb_ids)


def test_eos_comes_from_the_tokenizer_config_without_transformers(tmp_path):
    from augmath.tiny import make_tiny_llama
    from transformers import AutoTokenizer

    model = make_tiny_llama(tmp_path / "tiny")
    assert inputs._configured_eos(model) == AutoTokenizer.from_pretrained(model).eos_token == EOS
    config = json.loads((model / "tokenizer_config.json").read_text())
    (model / "tokenizer_config.json").write_text(json.dumps({**config, "eos_token": {"content": "</s>"}}))
    assert inputs.model_eos_token(str(model)) == "</s>"
    (model / "tokenizer.json").unlink()  # a config without a tokenizer file: transformers decides (and fails)
    assert inputs._configured_eos(model) is None
