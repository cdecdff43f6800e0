"""`augmath reproduce`: every results.json carries a reproduction record, and re-running it on the same model gives
the same numbers; one changed weight is a mismatch that names the weights. A tiny random Llama, a likelihood task
(forward passes only), three items."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from augmath.cli import main
from augmath.eval_tasks import record, reproduce

PACKAGES_RECORDED = {"torch", "transformers", "lighteval", "datasets", "huggingface_hub"}


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    from augmath.tiny import make_tiny_llama

    tmp = tmp_path_factory.mktemp("reproduce")
    mp = pytest.MonkeyPatch()
    mp.setenv("AUGMATH_CACHE", str(tmp / "cache"))
    mp.setenv("AUGMATH_EVAL_DATA_ROOT", str(tmp / "eval_data"))
    model, out = make_tiny_llama(tmp / "tiny"), tmp / "r"
    code = main(["eval", "--model", str(model), "--tasks", "gsm8k_bpb", "--max-samples", "3", "--data-dir",
                 "packaged", "--batch-size", "4", "--dtype", "float32", "--quiet", "--out", str(out)])
    assert code == 0, (out / "lighteval" / "lighteval.log").read_text()[-3000:]
    yield tmp, model, out
    mp.undo()


def test_results_carry_the_reproduction_record(evaluated):
    _, model, out = evaluated
    results = json.loads((out / "results.json").read_text())
    rec = results["reproduction"]
    assert rec["augmath"]["version"] and set(rec["versions"]) >= PACKAGES_RECORDED
    assert all(rec["versions"][p] for p in PACKAGES_RECORDED)
    assert rec["requirements_lock_sha256"] == record.lock_sha256() and len(rec["grader"]["sha256"]) == 64
    from augmath.eval_tasks.run import weights_sha256

    assert rec["model"] == {"name": str(model), "weights_sha256": weights_sha256(model)}
    ids = [json.loads(x)["id"] for x in (out / "details" / "gsm8k_bpb.jsonl").read_text().splitlines()]
    assert rec["items"] == {"gsm8k_bpb": ids} and len(ids) == 3
    argv = rec["eval_argv"]
    assert argv[:3] == ["eval", "--tasks", "gsm8k_bpb"] and "--model" not in argv and "--out" not in argv
    for option, value in (("--max-samples", "3"), ("--template", "alpaca"), ("--profile", "lenient"),
                          ("--batch-size", "4"), ("--dtype", "float32"), ("--data-dir", "packaged")):
        assert argv[argv.index(option) + 1] == value
    assert results["settings"]["model_parameters"] == {"device": "cpu", "batch_size": 4, "dtype": "float32"}
    assert rec["training"] is None  # a model made here, not by `augmath train`


@pytest.mark.slow
def test_the_same_model_reproduces_exactly_and_a_changed_weight_is_named(evaluated, capsys):
    import torch
    from safetensors.torch import load_file, save_file

    tmp, model, out = evaluated
    assert main(["reproduce", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "reproduced" / "reproduce.json").read_text())
    assert report["match"] and printed.startswith("gsm8k_bpb: matches within 1e-06 (")
    bpb = report["tasks"]["gsm8k_bpb"]["metrics"]["bpb"]
    assert bpb[0] == bpb[1]  # same versions, same weights, same items: the same number, exactly

    changed = tmp / "changed"
    shutil.copytree(model, changed)
    weights = load_file(changed / "model.safetensors")
    name = next(k for k in weights if k.endswith("embed_tokens.weight"))
    weights[name] = weights[name].clone()
    weights[name][:, 0] += torch.tensor(0.5)  # one column of the embeddings: every item's likelihood moves
    save_file(weights, str(changed / "model.safetensors"), metadata={"format": "pt"})
    assert main(["reproduce", str(out), "--model", str(changed), "--out", str(tmp / "again")]) == 1
    printed = capsys.readouterr().out
    verdict = json.loads((tmp / "again" / "reproduce.json").read_text())["tasks"]["gsm8k_bpb"]
    assert not verdict["match"] and verdict["why"][0].startswith("different weights (sha256 ")
    assert len(verdict["why"]) == 1  # nothing else differs: same versions, items and settings
    assert "gsm8k_bpb: DIFFERS within 1e-06" in printed and "why: different weights" in printed


def test_a_folder_without_a_record_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "results.json").write_text(json.dumps({"model": "m", "tasks": {}}))
    assert main(["reproduce", str(tmp_path)]) == 2
    assert "no reproduction record" in capsys.readouterr().err
    assert main(["reproduce", str(tmp_path / "nope")]) == 2
    assert "no results.json" in capsys.readouterr().err


def test_differences_name_each_cause():
    base = {"model": {"weights_sha256": "a" * 64}, "items": {"t": ["1"]}, "eval_argv": ["eval"],
            "versions": {"torch": "2.13.0"}, "grader": {"sha256": "g"}, "requirements_lock_sha256": "l",
            "augmath": {"commit": "c"}}
    assert record.differences(base, base) == []
    other = {**base, "versions": {"torch": "2.14.0"}, "items": {"t": ["2"]}}
    assert record.differences(base, other) == ["different items", "different versions: torch 2.13.0 -> 2.14.0"]
    verdicts = reproduce.compare({"tasks": {"t": {"bpb": 1.0, "n": 3}}, "reproduction": base},
                                 {"tasks": {"t": {"bpb": 1.0 + 1e-9, "n": 3}}, "reproduction": other}, 1e-6)
    assert verdicts["t"]["match"] and verdicts["t"]["why"] == []
