"""The tasks' metric is augmath's grader: on the same saved predictions, the lighteval score equals grading applied directly."""

from __future__ import annotations

import json
import re

import pytest
from lighteval.metrics import apply_metric
from lighteval.models.model_output import ModelResponse

from augmath import grading
from augmath.eval_tasks.metrics import majority_answer, score_outputs
from eval_fixtures import SAVED_PREDICTIONS, docs_for, eval_folders, rows  # noqa: F401


def _bump_gsm8k(solution: str) -> str:
    """The reference solution with its final '#### N' changed to N+1 (a wrong answer in the right format)."""
    head, gold = solution.rsplit("####", 1)
    value = gold.strip().replace(",", "")
    return f"{head}#### {int(float(value)) + 1}"


def _bump_math(solution: str) -> str:
    """The reference solution with '+1' appended inside its last \\boxed{} (wrong unless the grader is broken)."""
    i = solution.rfind("\\boxed{")
    depth, j = 0, i + len("\\boxed")
    for j in range(i + len("\\boxed"), len(solution)):
        depth += solution[j] == "{"
        depth -= solution[j] == "}"
        if depth == 0:
            break
    return solution[:j] + "+1" + solution[j:]


def _saved_predictions(name: str) -> dict[str, list[str]]:
    """Real model outputs saved from the SmolLM2-135M-Instruct runs in docs/evaluation.md: id -> [outputs]."""
    out: dict[str, list[str]] = {}
    if SAVED_PREDICTIONS.is_file():
        for line in SAVED_PREDICTIONS.read_text().splitlines():
            row = json.loads(line)
            if row["benchmark"] == name:
                out.setdefault(row["id"], []).append(row["output"])
    return out


@pytest.mark.xfail(not SAVED_PREDICTIONS.is_file(), strict=True,
                   reason="real SmolLM2 predictions (tests/data/eval_saved_predictions.jsonl) not recorded yet; issue 7 open")
@pytest.mark.parametrize("name,kind", [("gsm8k", "gsm8k"), ("math500", "math"), ("svamp", "gsm8k")])
def test_task_score_equals_the_grader_on_saved_predictions(name, kind, eval_folders):
    config, docs = docs_for(name, eval_folders)
    table = rows(eval_folders[name])
    saved = _saved_predictions(name)
    pairs = []  # (doc, prediction)
    for doc, row in zip(docs, table):
        if row["id"] in saved:
            pairs += [(doc, text) for text in saved[row["id"]]]
    first_made = len(pairs)  # from here on: made from the gold, every third (gsm8k) or second one right
    # Reference solutions (right), the same with a wrong final answer, and MuggleMath's answer style.
    for doc, row in list(zip(docs, table))[:60]:
        if name == "gsm8k":
            pairs += [(doc, row["solution"]), (doc, _bump_gsm8k(row["solution"])),
                      (doc, f"We compute step by step.\nThe answer is: {row['answer']}")]
        elif name == "math500":
            pairs += [(doc, row["solution"]), (doc, _bump_math(row["solution"]))]
        else:
            pairs += [(doc, f"The answer is {row['answer']}."), (doc, f"The answer is {row['answer']}0.")]
    if name in ("gsm8k", "math500"):
        assert len(saved) >= 20, f"{SAVED_PREDICTIONS} should hold real model outputs for {name}"
    docs_, texts = [d for d, _ in pairs], [t for _, t in pairs]
    scores = apply_metric(responses=[ModelResponse(text=[t]) for t in texts], docs=docs_, metrics=list(config.metrics))
    direct = grading.grade_many([d.get_golds()[0] for d in docs_], texts, kind)
    assert [s["acc"] for s in scores] == [float(v.correct) for v in direct]
    assert [s["maj@k"] for s in scores] == [float(v.correct) for v in direct]  # k=1: maj@1 is acc
    assert [score_outputs(d.get_golds()[0], [t], kind)["correct"] for d, t in pairs] == [v.correct for v in direct]
    # The sets are not degenerate: both verdicts occur, and the references are all right.
    assert 0 < sum(v.correct for v in direct) < len(direct)
    step = 3 if name == "gsm8k" else 2
    made = direct[first_made:]
    assert len(made) == 60 * step
    assert all(v.correct for v in made[0::step]) and not any(v.correct for v in made[1::step])
    if name == "gsm8k":
        assert all(v.correct for v in made[2::step])  # MuggleMath's "The answer is: N"


def test_majority_of_sampled_answers(eval_folders):
    config, docs = docs_for("gsm8k", eval_folders, limit=1)
    doc = docs[0]
    gold = doc.get_golds()[0]
    wrong = str(int(gold) + 7)
    maj = next(m for m in config.metrics if m.metric_name == "maj@k")
    maj.sample_level_fn.k = 5
    cases = [
        ([f"so {gold}", f"#### {wrong}", f"The answer is {gold}.", "no idea", f"{wrong} apples"], 1.0),
        ([f"#### {wrong}", f"{wrong}", f"The answer is {gold}", "", f"= {wrong}"], 0.0),
        (["", "nothing", "?", "", "."], 0.0),  # nothing extracted from any sample
        ([f"{gold}", f"{wrong}", "", "", ""], 1.0),  # a tie goes to the answer seen first
        ([f"{wrong}", f"{gold}", "", "", ""], 0.0),
    ]
    for outputs, expected in cases:
        got = maj.compute_sample(doc=doc, model_response=ModelResponse(text=outputs))["maj@k"]
        assert got == expected, outputs
        assert score_outputs(gold, outputs, "gsm8k", k=5)["maj_correct"] == bool(expected)


def test_majority_clusters_equivalent_latex_answers():
    assert majority_answer(["\\frac{1}{2}", "3", "0.5", "\\dfrac12", "3"], "math") in ("\\frac{1}{2}",)
    assert majority_answer([None, None], "math") is None
    row = score_outputs("\\frac{1}{2}", ["$\\boxed{3}$", "\\boxed{0.5}", "\\boxed{\\frac12}"], "math", k=3)
    assert row["correct"] is False and row["maj_correct"] is True and row["samples_extracted"][0] == "3"


def test_a_doc_without_grading_kind_is_an_error(eval_folders):
    config, docs = docs_for("gsm8k", eval_folders, limit=1)
    docs[0].specific = {}
    with pytest.raises(ValueError, match="grading kind"):
        config.metrics[0].compute_sample(doc=docs[0], model_response=ModelResponse(text=["1"]))


@pytest.mark.xfail(not SAVED_PREDICTIONS.is_file(), strict=True,
                   reason="real SmolLM2 predictions (tests/data/eval_saved_predictions.jsonl) not recorded yet; issue 7 open")
def test_saved_predictions_file_is_real_model_output():
    """The fixture is what `augmath eval` wrote for SmolLM2 (not hand-made): ids, outputs, provenance."""
    lines = SAVED_PREDICTIONS.read_text().splitlines()
    assert len(lines) >= 40
    for line in lines:
        row = json.loads(line)
        assert row["benchmark"] in ("gsm8k", "math500") and re.match(r"(gsm8k|math500)/test/", row["id"])
        assert row["model"].startswith("SmolLM2-135M-Instruct") and row["backend"] in ("endpoint", "accelerate")
