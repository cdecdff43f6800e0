"""`augmath eval --profile lenient|paper` (augmath.eval_tasks.profiles): the official GSM8K scoring as a regression
table of real outputs, the profile's generation sizes, bad combinations refused, and real lighteval runs under both
profiles whose results say which profile made each number."""

from __future__ import annotations

import json

import pytest

from augmath import grading
from augmath.cli import main
from augmath.eval_tasks import profiles
from augmath.eval_tasks.metrics import score_outputs
from augmath.sources import load
from augment_fixtures import recorded_outputs
from eval_fixtures import docs_for, eval_folders, load_task_module, settings_file  # noqa: F401

PACKAGED = {r.id: r for r in load("gsm8k", "train", "packaged")}


def recorded(name: str, line: int) -> tuple[str, str]:
    """(output, gold) of a real SmolLM2 reasoning path recorded for a GSM8K train seed."""
    row = recorded_outputs(name)[line]
    assert row["kind"] == "path" and row["source"] == "gsm8k"
    return row["text"], PACKAGED[row["seed_id"]].answer


# Real outputs where the official rule and augmath's lenient extraction disagree, and real reference solutions.
REAL = [  # (fixture, line, official answer, lenient answer)
    ("smollm2_outputs.jsonl", 9, "60", "60"),               # one "#### 60": both agree
    ("smollm2_outputs.jsonl", 10, "50", "24"),              # "#### 50 * 2 = ... #### 24": official takes the first
    ("smollm2_outputs_gsm8k.jsonl", 11, None, "6"),         # no "####": official has no answer, lenient the last number
    ("smollm2_outputs_gsm8k.jsonl", 38, "105.", "105"),     # "#### 105.\n#### 19"
    ("smollm2_outputs_gsm8k.jsonl", 47, "61628.", "61628"),  # "#### 61,628.": commas removed, the dot kept (a float)
]


@pytest.mark.parametrize("fixture, line, official, lenient", REAL)
def test_official_scoring_on_real_outputs(fixture, line, official, lenient):
    text, gold = recorded(fixture, line)
    assert profiles.official_extract(text, "gsm8k") == official
    assert profiles.extract(text, "gsm8k", "lenient") == lenient == grading.extract(text, "gsm8k")
    extracted, correct = profiles.grade(gold, text, "gsm8k", "paper")
    assert extracted == official and correct == (official is not None and grading.is_equiv(gold, official, "gsm8k"))


REFERENCE = load("gsm8k", "train", "packaged")[0].solution  # "Natalia sold 48/2 = <<48/2=24>>24 ... #### 72"


@pytest.mark.parametrize("text, official, paper_correct, lenient_correct", [
    (REFERENCE, "72", True, True),
    (REFERENCE.replace("#### 72", "#### 72.0"), "72.0", True, True),
    (REFERENCE.replace("#### 72", "####72"), None, False, True),           # the official regex needs the space
    (REFERENCE.replace("#### 72", "#### $72"), None, False, True),         # ... and a bare number
    (REFERENCE.replace("#### 72", "The answer is 72."), None, False, True),
    (REFERENCE.replace("#### 72", "#### 7,2"), "72", True, False),         # commas go, wherever they are
    (REFERENCE.replace("#### 72", "#### 1.2.3"), None, False, False),      # not a number: eval.py's [invalid]
    (REFERENCE.replace("#### 72", "#### 72\u0000#### 5"), "72", True, False),  # eval.py stops at NUL
    (REFERENCE.replace("#### 72", "#### 24\n#### 72"), "24", False, False),  # the first "####" counts
    ("", None, False, False),
])
def test_official_scoring_table(text, official, paper_correct, lenient_correct):
    assert profiles.official_extract(text, "gsm8k") == official
    assert profiles.grade("72", text, "gsm8k", "paper") == (official, paper_correct)
    assert profiles.grade("72", text, "gsm8k", "lenient")[1] == lenient_correct
    assert score_outputs("72", [text], "gsm8k", profile="paper") == {"extracted": official, "correct": paper_correct}


@pytest.mark.parametrize("text, official", [
    ("So $x = \\frac{1}{2}$, i.e. $\\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}"),
    ("First $\\boxed{3}$, then corrected: $\\boxed{4}$.", "4"),  # the last \boxed{}
    ("The answer is 1/2.", None),
])
def test_paper_profile_reads_math_answers_from_the_last_boxed_only(text, official):
    assert profiles.official_extract(text, "math") == official


def test_paper_majority_vote_uses_the_official_extraction():
    texts = ["#### 5", "The answer is 7", "The answer is 7", "#### 5 apples"]
    assert score_outputs("5", texts, "gsm8k", k=4, profile="paper")["majority"] == "5"
    assert score_outputs("5", texts, "gsm8k", k=4, profile="lenient")["samples_extracted"] == ["5", "7", "7", "5"]


def test_the_task_metrics_score_under_the_settings_files_profile(eval_folders):  # noqa: F811
    """lighteval's process reads the profile from the settings file: the same outputs score differently."""
    from lighteval.models.model_output import ModelResponse

    config, docs = docs_for("gsm8k", eval_folders, limit=1)
    gold = docs[0].get_golds()[0]
    acc = next(m for m in config.metrics if m.metric_name == "acc")
    maj = next(m for m in config.metrics if m.metric_name == "maj@k")
    maj.sample_level_fn.k = 3
    answers = [f"The answer is {gold}.", f"so {gold}", f"#### {int(gold) + 1}"]
    for profile, acc_expected, maj_expected in (("lenient", 1.0, 1.0), ("paper", 0.0, 0.0)):
        with settings_file(tasks=eval_folders, profile=profile):
            assert acc.compute_sample(doc=docs[0], model_response=ModelResponse(text=answers[:1]))["acc"] == acc_expected
            assert maj.compute_sample(doc=docs[0], model_response=ModelResponse(text=answers))["maj@k"] == maj_expected


def test_unknown_profile_is_an_error():
    with pytest.raises(ValueError, match="strict"):
        profiles.grade("1", "#### 1", "gsm8k", "strict")


@pytest.mark.parametrize("name, size", [("gsm8k", 256), ("svamp", 256), ("math500", 1024)])
def test_paper_profile_sets_the_papers_generation_size(name, size, eval_folders):  # noqa: F811
    assert load_task_module(name, eval_folders, profile="paper").TASKS_TABLE[0].generation_size == size
    assert load_task_module(name, eval_folders).TASKS_TABLE[0].generation_size in (512, 1024)


@pytest.mark.parametrize("extra, message", [
    (["--max-new-tokens", "100"], "drop --max-new-tokens"),
    (["--temperature", "0.5"], "decodes greedily"),
])
def test_paper_profile_refuses_settings_that_are_not_the_papers(extra, message, capsys, tmp_path):
    code = main(["eval", "--backend", "endpoint", "--base-url", "http://127.0.0.1:9/v1", "--model", "m",
                 "--tasks", "gsm8k", "--profile", "paper", "--out", str(tmp_path), *extra])
    assert code == 2 and message in capsys.readouterr().err


@pytest.mark.slow
def test_both_profiles_in_real_lighteval_runs(embedded_server, tmp_path, monkeypatch):
    """The same 3 GSM8K items through lighteval and the embedded server under each profile: results.json and
    every task say which profile made the number; the paper run generated 256 tokens greedily and scored the
    official way (augmath eval regrades every output and fails if lighteval's in-process metric disagrees)."""
    monkeypatch.setenv("AUGMATH_EVAL_DATA_ROOT", str(tmp_path / "eval_data"))
    out = {}
    for profile, extra in (("paper", []), ("lenient", ["--max-new-tokens", "64"])):
        code = main(["eval", "--backend", "endpoint", "--base-url", embedded_server.base_url, "--tasks", "gsm8k",
                     "--max-samples", "3", "--data-dir", "packaged", "--quiet", "--profile", profile,
                     "--out", str(tmp_path / profile), *extra])
        assert code == 0, (tmp_path / profile / "lighteval" / "lighteval.log").read_text()[-3000:]
        out[profile] = json.loads((tmp_path / profile / "results.json").read_text())
        details = [json.loads(x) for x in (tmp_path / profile / "details" / "gsm8k.jsonl").read_text().splitlines()]
        assert out[profile]["profile"] == out[profile]["tasks"]["gsm8k"]["profile"] == profile
        assert out[profile]["settings"]["profile"] == profile and len(details) == 3
        calls = [json.loads(x) for x in (tmp_path / profile / "requests.jsonl").read_text().splitlines()]
        assert {c["params"]["max_tokens"] for c in calls} == {256 if profile == "paper" else 64}
        assert {c["params"]["temperature"] for c in calls} == {0.0}
        for row in details:
            assert (row["extracted"], row["correct"]) == profiles.grade(row["gold"], row["output"], "gsm8k", profile)
    assert out["paper"]["settings"]["generation_size"] == {"gsm8k": 256}
    assert out["lenient"]["settings"]["generation_size"] == {"gsm8k": 64}
