"""`augmath decide`: the small-scale bits-per-byte order against the large-scale accuracy order, on results
folders shaped as `augmath eval` writes them."""

from __future__ import annotations

import json

import pytest

from analysis_fixtures import trained, write_results
from augmath.analysis.decide import decide
from augmath.cli import main

SMALL, LARGE = "HuggingFaceTB/SmolLM2-135M-Instruct", "Qwen/Qwen2.5-1.5B-Instruct"


def _scale(tmp_path, name, base, scores, seeds=(None,), tokens=1000):
    """One results folder per (configuration, seed): bits per byte (small) or GSM8K accuracy (large)."""
    folders = []
    for (config, n), value in scores.items():
        for s in seeds:
            prov = {**trained(config, n, "gsm8k", config.split("-", 1)[1], base=base), "progress": {"tokens_seen": tokens}}
            if s is not None:
                prov["seed"] = s
            kind = {"bpb": {"gsm8k_bpb": value + (0.01 * s if s else 0.0)}} if name == "small" else \
                {"accuracies": {"gsm8k": value}}
            folders.append(write_results(tmp_path / name / f"{config}-{n}-{s}", provenance=prov, seed=n + (s or 0),
                                         **({"accuracies": {}} | kind)))
    return folders


# four configurations: the small scale ranks a < b < c < d in bits per byte (a best); the large scale's accuracy
# ranks a > b > d > c, so the proxy gets 5 of the 6 pairs right (c vs d wrong)
SMALL_BPB = {("gsm8k-numbers", 8): 0.70, ("gsm8k-reverse", 8): 0.80, ("gsm8k-original", 8): 0.90,
             ("gsm8k-numbers", 2): 1.00}
LARGE_ACC = {("gsm8k-numbers", 8): 0.60, ("gsm8k-reverse", 8): 0.45, ("gsm8k-original", 8): 0.20,
             ("gsm8k-numbers", 2): 0.30}


def test_decision_accuracy_counts_the_pairs_whose_orders_agree(tmp_path):
    small = _scale(tmp_path, "small", SMALL, SMALL_BPB, seeds=(0, 1, 2), tokens=1000)
    large = _scale(tmp_path, "large", LARGE, LARGE_ACC, tokens=1000)
    doc = decide(small, large, small_params=135e6, large_params=1.5e9, resamples=300)
    assert (doc["small_task"], doc["large_task"]) == ("gsm8k_bpb", "gsm8k")
    assert len(doc["configurations"]) == 4 and len(doc["pairs"]) == 6
    assert doc["decision_accuracy"] == pytest.approx(5 / 6)
    wrong = [p for p in doc["pairs"] if p["agree"] == 0.0]
    assert [(p["small_prefers"], p["large_prefers"]) for p in wrong] == [
        ("gsm8k-original @ N=8", "gsm8k-numbers @ N=2")]
    lo, hi = doc["ci"]
    assert lo <= 5 / 6 <= hi and hi <= 1.0
    # 3 small runs of 1,000 tokens per configuration at 135M against 1 large run of 1,000 tokens at 1.5B
    assert doc["compute"]["ratio"] == pytest.approx(1.5e9 / (3 * 135e6))


def test_orders_that_agree_everywhere_give_one(tmp_path):
    mirrored = {k: 1.5 - v for k, v in LARGE_ACC.items()}  # bits per byte low exactly where accuracy is high
    small = _scale(tmp_path, "small", SMALL, mirrored)
    base = write_results(tmp_path / "small" / "base", accuracies={}, provenance=None, model=SMALL,
                         bpb={"gsm8k_bpb": 1.4})  # a results glob's base model: nothing to rank, left out
    doc = decide(small + [base], _scale(tmp_path, "large", LARGE, LARGE_ACC), resamples=200)
    assert doc["decision_accuracy"] == 1.0 and doc["compute"]["ratio"] is None  # no parameter counts given
    assert doc["base_models_left_out"] == 1 and len(doc["configurations"]) == 4


def test_cli_prints_the_accuracy_and_writes_json(tmp_path, capsys):
    small = _scale(tmp_path, "small", SMALL, SMALL_BPB)
    large = _scale(tmp_path, "large", LARGE, LARGE_ACC)
    code = main(["decide", *map(str, small), "--against", *map(str, large), "--out", str(tmp_path / "d"),
                 "--resamples", "100", "--small-params", "135e6", "--large-params", "1.5e9"])
    out = capsys.readouterr().out
    assert code == 0 and "decision accuracy 0.83 [" in out and "DISAGREE" in out
    assert "compute ratio (large / small training FLOPs): 11.1" in out
    assert json.loads((tmp_path / "d" / "decide.json").read_text())["ordered_pairs"] == 6


@pytest.mark.parametrize("large_scores, message", [
    ({("gsm8k-numbers", 8): 0.5}, r"1 training configuration\(s\) scored at both scales"),
    ({("gsm8k-other", 8): 0.5, ("gsm8k-more", 8): 0.4}, r"0 training configuration\(s\) scored at both scales"),
])
def test_too_few_shared_configurations_is_one_clear_error(tmp_path, capsys, large_scores, message):
    small = _scale(tmp_path, "small", SMALL, SMALL_BPB)
    large = _scale(tmp_path, "large", LARGE, large_scores)
    assert main(["decide", *map(str, small), "--against", *map(str, large)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("augmath decide: error: ")
    import re
    assert re.search(message, err)


def test_a_small_task_in_accuracy_is_refused(tmp_path, capsys):
    small = _scale(tmp_path, "small", SMALL, SMALL_BPB)
    large = _scale(tmp_path, "large", LARGE, LARGE_ACC)
    assert main(["decide", *map(str, small), "--against", *map(str, large), "--small-task", "gsm8k"]) == 2
    assert "no task 'gsm8k'" in capsys.readouterr().err
