"""GSM8K-style grading (tricky real-world outputs, both directions), the public API, and `augmath grade`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from augmath import grading

# (gold, model output, correct?) -- the kinds of outputs small models really produce.
GSM8K = [
    ("18", "Janet sells 16 - 3 - 4 = 9 eggs.\nShe makes 9 * 2 = $18.\n#### 18", True),
    ("18", "The answer is 18.", True), ("18", "The answer is $18.", True), ("18", "The answer is \\$18.00", True),
    ("18", "So she makes 18 dollars every day.", True), ("1000", "#### 1,000", True), ("1000", "#### 1 000", True),
    ("1,450,000", "Total: 1,450,000 dollars. #### 1450000", True), ("1450000", "The answer is 1,450,000.", True),
    ("-5", "The answer is -5.", True), ("-5", "The temperature ends at \u22125 degrees.", True),
    ("-5", "She lost -$5.", True), ("1000", "1\u2009000", True),
    ("18", "\\boxed{18}", True), ("18", "\\boxed{\\$18}", True), ("18", "\\boxed{18 \\text{ dollars}}", True),
    ("18", "The answer is: $\\boxed{18}$", True), ("0.75", "The answer is $\\frac{3}{4}$", True),
    ("18.5", "The answer is 18.5", True), ("18", "The answer is 18.5", False), ("2.5", "It takes 2.50 hours.", True),
    ("18", "#### 18.0", True), ("18", "#### $18", True), ("0.75", "3/4", True), ("3.5", "The answer is 3 1/2", True),
    ("25", "25%", True), ("25", "She scored 25 percent.", True), ("0.1", "10%", True), ("10", "The answer is 10%.", True),
    ("25", "0.25", False),
    # the answer is followed by more numbers: a new hallucinated question, a check, a polite sign-off
    ("18", "The answer is 18\n\nQuestion: Tom has 3 apples and eats 1. How many are left?\nAnswer: 2", True),
    ("18", "9 * 2 = 18\n### Instruction:\nWhat is 5 + 7?\n\n### Response:\n12", True),
    ("18", "So the answer is 18 <|im_end|><|im_start|>user\nWhat is 3+4?", True),
    ("18", "The answer is 18. Eighteen dollars is a lot of money for 9 eggs at $2 each.", True),
    ("18", "She makes $18 per day.\nI hope this helps! Let me know if you have 2 more questions.", True),
    ("18", "The answer is 20. Wait, let me recheck: 9 * 2 = 18. The answer is 18.", True),
    ("18", "The answer is not 20, it is 18.", True), ("42", "#### 42\n\nThe answer is 42", True),
    ("3", "The answer is 3.\n\nQuestion: A farmer has 17 cows and buys 5 more...", True),
    ("3", "The answer is 3. Question: A farmer has 17 cows and buys 5 more. Answer: 22", True),
    ("18", "The answer is 18.\n\n### Response:\nThe answer is 20.", True),
    ("12", "#### 1. Compute the total\nShe buys 12 eggs.\nThe answer is 12.", True),
    ("36", "Step 1: 3 * 12 = 36\nStep 2: done\n#### 36 cookies", True),
    ("18", "Janet makes 9 * $2 = $<<9*2=18>>18.\n#### 18", True),
    ("8", "The answer is 5 + 3 = 8.", True), ("7", "She has 10 - 3 = 7 apples left.", True),
    # words, units, markup
    ("18", "The answer is eighteen.", True), ("21", "twenty-one", True), ("1500000", "The answer is 1.5 million.", True),
    ("5", "He drives at 5 km/h.", True), ("18", "The answer is (18).", True), ("18", "The answer is **18**.", True),
    ("18", "Answer: **$18**", True), ("18", "The final answer is: 18.", True), ("18", "18 is the answer.", True),
    ("18", "The answer is \\(18\\).", True), ("125", "The answer is 125 miles.", True), ("2", "#### 2 apples", True),
    # wrong or missing
    ("18", "The answer is 81.", False), ("18", "#### 17", False), ("18", "I don't know.", False), ("18", "", False),
    ("18", "The answer is 18.01", False), ("-5", "5", False), ("1000", "100", False),
]


@pytest.fixture(scope="module")
def gsm8k_verdicts():
    return grading.grade_many([g for g, _, _ in GSM8K], [p for _, p, _ in GSM8K], "gsm8k")


@pytest.mark.parametrize("index", range(len(GSM8K)), ids=[f"{g}|{p[:30]}" for g, p, _ in GSM8K])
def test_gsm8k_table(gsm8k_verdicts, index):
    gold, pred, expected = GSM8K[index]
    assert gsm8k_verdicts[index].correct is expected, (gold, pred, gsm8k_verdicts[index])


def test_gsm8k_extraction_and_canonical_text():
    assert grading.extract("She pays $1,234.50 in total.\n#### 1,234.50", "gsm8k") == "1234.5"
    assert grading.extract("The answer is 3/4.", "gsm8k") == "0.75"
    assert grading.extract("The answer is 1/3.", "gsm8k") == "1/3"
    assert grading.extract("no digits here", "gsm8k") is None
    assert grading.extract("18", "gsm8k") == "18"  # idempotent on its own output


def test_gold_may_be_a_full_solution():
    solution = "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nAltogether 48+24 = <<48+24=72>>72 clips.\n#### 72"
    assert grading.is_equiv(solution, "The answer is 72.", "gsm8k")
    assert not grading.is_equiv(solution, "The answer is 24.", "gsm8k")


def test_same_answer_is_symmetric_and_clusters():
    assert grading.same_answer("x = 5", "5", "math") and grading.same_answer("5", "x = 5", "math")
    assert grading.same_answer("18.00", "18", "gsm8k")
    assert not grading.same_answer("18", "19", "gsm8k")
    answers = ["\\frac{1}{2}", "0.5", "1/2", "\\frac{1}{3}"]
    clusters: list[list[str]] = []
    for a in answers:
        for c in clusters:
            if grading.same_answer(c[0], a, "math"):
                c.append(a)
                break
        else:
            clusters.append([a])
    assert [len(c) for c in clusters] == [3, 1]


def test_api_validation():
    with pytest.raises(ValueError, match="kind"):
        grading.grade("1", "1", "algebra")
    with pytest.raises(ValueError, match="golds"):
        grading.grade_many(["1", "2"], ["1"], "gsm8k")
    assert grading.grade_many([], [], "math") == []
    assert grading.grade(18, None, "gsm8k") == grading.Verdict(None, False)  # numbers and None are tolerated


# --- the CLI contract --------------------------------------------------------------------------------------
def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "augmath.cli", "grade", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def _write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))


def test_cli_grades_in_order_and_passes_fields_through(tmp_path):
    rows = [{"id": i, "gold": g, "prediction": p, "meta": {"k": i}} for i, (g, p, _) in enumerate(GSM8K[:12])]
    _write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "sub" / "out.jsonl"
    res = _cli(str(tmp_path / "in.jsonl"), "--kind", "gsm8k", "--out", str(out), "--workers", "2")
    assert res.returncode == 0, res.stderr
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in got] == list(range(12))
    for row, g in zip(rows, got):
        assert {k: g[k] for k in row} == row
        assert isinstance(g["correct"], bool) and (g["extracted"] is None or isinstance(g["extracted"], str))
    assert [g["correct"] for g in got] == [e for _, _, e in GSM8K[:12]]


def test_cli_writes_stdout_without_out_and_handles_math(tmp_path):
    rows = [{"gold": "\\frac{1}{2}", "prediction": "so $\\boxed{0.5}$"},
            {"gold": "x^2-1", "prediction": "\\boxed{(x-1)(x+1)}"},
            {"gold": "3", "prediction": None}]
    _write_jsonl(tmp_path / "in.jsonl", rows)
    res = _cli(str(tmp_path / "in.jsonl"), "--kind", "math")
    assert res.returncode == 0, res.stderr
    got = [json.loads(line) for line in res.stdout.splitlines()]
    assert [g["correct"] for g in got] == [True, True, False]
    assert [g["extracted"] for g in got] == ["0.5", "(x-1)(x+1)", None]


@pytest.mark.parametrize("bad_line, message", [
    ("{not json", "invalid JSON"),
    ('{"prediction": "1"}', "missing field 'gold'"),
    ('{"gold": "1"}', "missing field 'prediction'"),
    ('{"gold": ["1"], "prediction": "1"}', "field 'gold'"),
    ('{"gold": "1", "prediction": 5}', "field 'prediction'"),
    ('[1, 2]', "expected a JSON object"),
])
def test_cli_bad_row_names_the_line_and_leaves_nothing(tmp_path, bad_line, message):
    _write_jsonl(tmp_path / "in.jsonl", [{"gold": "1", "prediction": "1"}, {"gold": "2", "prediction": "2"}, bad_line])
    out = tmp_path / "out.jsonl"
    res = _cli(str(tmp_path / "in.jsonl"), "--kind", "gsm8k", "--out", str(out))
    assert res.returncode != 0
    assert f"in.jsonl:3" in res.stderr and message in res.stderr
    assert not out.exists() and os.listdir(tmp_path) == ["in.jsonl"]


def test_cli_missing_input_and_bad_kind(tmp_path):
    res = _cli(str(tmp_path / "nope.jsonl"), "--kind", "gsm8k")
    assert res.returncode != 0 and "nope.jsonl" in res.stderr
    _write_jsonl(tmp_path / "in.jsonl", [{"gold": "1", "prediction": "1"}])
    res = _cli(str(tmp_path / "in.jsonl"), "--kind", "algebra")
    assert res.returncode != 0 and "invalid choice" in res.stderr
