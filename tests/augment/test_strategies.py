"""Each strategy's prompt and parser on real seeds and on real recorded SmolLM2 outputs
(tests/fixtures/smollm2_outputs.jsonl, recorded by tests/fixtures/record_smollm2_outputs.py), plus the
exact `reverse` construction and the verification rules (augmath.augment.verify) on real model paths."""

from __future__ import annotations

import re
from collections import Counter

import pytest
import sympy

from augment_fixtures import gsm8k_train, math_train, recorded_outputs, seed_with  # noqa: F401  (fixtures)
from augmath.augment import calc
from augmath import grading
from augmath.sources import load
from augmath.augment.strategies import EVOLUTION, REGISTRY, Reject, get
from augmath.augment.strategies.evolve import clean_question, split_math
from augmath.augment.strategies.reverse import FOBAR
from augmath.augment.verify import decide, filter_paths, majority, solver_messages

PACKAGED = {"gsm8k": load("gsm8k", "train", "packaged"), "math": load("math", "train", "packaged")}
BY_ID = {r.id: r for records in PACKAGED.values() for r in records}


def test_registry_names_hashes_and_lookup():
    assert list(REGISTRY) == ["numbers", "fraction", "combine", "conditional", "complexity", "rephrase", "reverse",
                              "selfverify", "paths"]
    hashes = {s.prompt_hash for s in REGISTRY.values()}
    assert len(hashes) == len(REGISTRY) and all(re.fullmatch(r"[0-9a-f]{12}", h) for h in hashes)
    assert [s.name for s in get("numbers, reverse")] == ["numbers", "reverse"]
    with pytest.raises(ValueError, match="valid: numbers"):
        get("numbers,bogus")


@pytest.mark.parametrize("name", EVOLUTION + ["rephrase", "selfverify"])
@pytest.mark.parametrize("source", ["gsm8k", "math"])
def test_prompts_on_real_seeds(name, source):
    strategy = REGISTRY[name]
    if not strategy.needs_llm(source):
        assert name == "numbers" and source == "gsm8k"
        return
    for seed in PACKAGED[source][3:]:
        try:
            messages = strategy.messages(seed, 0)
            break
        except Reject as e:  # selfverify needs a number it can mask
            assert name == "selfverify" and str(e) == "no number to mask"
    assert [m["role"] for m in messages] == ["system", "user"]
    user = messages[1]["content"]
    if name == "selfverify":
        assert seed.answer in user and ("unknown x" in user if source == "gsm8k" else "unknown X" in user)
    else:
        assert seed.question.strip() in user
    if source == "math" and name in EVOLUTION:
        assert "\\boxed{}" in user and "Solution:" in user
    assert not re.search(r"\{(instruction|seed|example_\w+|masked|answer|var)\}", user)  # every field filled
    assert strategy.messages(seed, 0) == messages  # deterministic: reruns hit the engine's log


KNOWN_REASONS = {"empty output", "no question asked", "too short", "too long", "no numbers", "copy of the seed",
                 "copy of the prompt example", "no solution", "solution has no \\boxed{} answer",
                 "unrelated to the seed", "numbers changed", "unknown variable missing", "answer not stated",
                 "masked number given away", "contains a worked calculation", "does not ask for the unknown"}


def test_recorded_outputs_parse_or_are_rejected_with_a_reason():
    """Every real SmolLM2 query output either parses into a usable query or is rejected with a known reason.
    (A 135M model mostly talks about the task instead of doing it; those outputs must be rejected.)"""
    outcomes = Counter()
    for row in recorded_outputs("smollm2_outputs.jsonl") + recorded_outputs("smollm2_outputs_gsm8k.jsonl"):
        if row["kind"] != "query":
            continue
        seed = BY_ID[row["seed_id"]]
        strategy = REGISTRY[row["strategy"]]
        try:
            q = strategy.parse(seed, row["text"], 0, row["model"], row["params"])
        except Reject as e:
            assert str(e) in KNOWN_REASONS, e
            outcomes[str(e)] += 1
            continue
        outcomes["parsed"] += 1
        assert q.question and q.question.strip() == q.question and "\n\n\n" not in q.question
        assert re.sub(r"\W", "", q.question.lower()) != re.sub(r"\W", "", seed.question.lower())
        assert q.generator == row["model"] and q.prompt_hash == strategy.prompt_hash
        if seed.source == "gsm8k":
            assert q.question.endswith("?")
        if row["strategy"] in EVOLUTION:
            assert q.gold is None and q.gold_method == "majority"
            if seed.source == "math":
                assert q.solution and calc is not None and "\\boxed" in q.solution
        elif row["strategy"] == "rephrase":
            assert q.gold == seed.answer
    print(dict(outcomes))
    # measured on the 55 recorded outputs: 1 parsed (a rephrasing), the rest rejected, mostly "no question asked"
    assert sum(outcomes.values()) == 55 and outcomes["no question asked"] >= 30 and outcomes["no solution"] >= 3
    assert outcomes["contains a worked calculation"] >= 1 and outcomes["does not ask for the unknown"] >= 1


@pytest.mark.parametrize("text, expected", [
    ("New problem: Tom has 7 pens. He buys 2 boxes of 5 pens. How many pens now?\n\nSolution: 7+10=17",
     "Tom has 7 pens. He buys 2 boxes of 5 pens. How many pens now?"),
    ('**New Problem:** "Sara reads 12 pages a day for 3 days. How many pages does she read?"',
     "Sara reads 12 pages a day for 3 days. How many pages does she read?"),
    ("Original problem: x\nNew problem: A farm has 30 cows and 1/3 are sold. How many cows are left? Let's solve",
     "A farm has 30 cows and 1/3 are sold. How many cows are left?"),
])
def test_clean_question_keeps_only_the_new_question(text, expected):
    assert clean_question(text, PACKAGED["gsm8k"][0], "example") == expected


@pytest.mark.parametrize("text, reason", [
    ("", "empty output"), ("I cannot help with that.", "no question asked"), ("How many?", "too short"),
    ("What is the name of the farmer who owns the big red barn?", "no numbers"),
])
def test_clean_question_rejects(text, reason):
    with pytest.raises(Reject, match=reason):
        clean_question(text, PACKAGED["gsm8k"][0], "example")


def test_copy_of_seed_is_rejected():
    seed = PACKAGED["gsm8k"][0]
    with pytest.raises(Reject, match="copy of the seed"):
        clean_question("New problem: " + seed.question.upper(), seed, "example")


def test_split_math_needs_a_boxed_solution():
    problem, solution = split_math("Problem: Find $2+3$.\nSolution: We add to get $\\boxed{5}$.\n\nProblem: next")
    assert problem.strip() == "Find $2+3$." and solution == "We add to get $\\boxed{5}$."
    with pytest.raises(Reject, match="no solution"):
        split_math("Problem: Find $2+3$.")
    with pytest.raises(Reject, match="boxed"):
        split_math("Problem: Find $2+3$.\nSolution: it is 5")


def test_numbers_exact_query_on_gsm8k_needs_no_model():
    seed = PACKAGED["gsm8k"][0]
    q = REGISTRY["numbers"].exact(seed, 0)
    assert q.generator == "exact" and q.gold_method == "exact-chain" and q.solution_trusted
    assert q.solution.endswith(f"#### {q.gold}") and calc.all_annotations_valid(q.solution)
    assert REGISTRY["numbers"].exact(PACKAGED["math"][0], 0) is None  # MATH: the LLM rewrite


def _check_reverse(seed, q):
    assert q.question.endswith(FOBAR.format(answer=seed.answer, var="x" if seed.source == "gsm8k" else "X"))
    masked = q.question[:-len(FOBAR.format(answer=seed.answer, var="x"))].rstrip()
    var = "x" if seed.source == "gsm8k" else "X"
    # putting the gold back where the unknown is gives the seed question again ($18.00 comes back as $18)
    restored = re.sub(rf"(?<![A-Za-z]){var}(?![A-Za-z])", q.gold, masked, count=1)
    number = re.compile(r"\d[\d,]*(?:\.\d+)?|\.\d+")
    assert number.sub("N", restored) == number.sub("N", seed.question.rstrip())
    assert [calc.to_fraction(n) for n in number.findall(restored)] == \
        [calc.to_fraction(n) for n in number.findall(seed.question)]


def test_reverse_on_gsm8k_train_is_exact_and_solves_back(gsm8k_train):
    methods = Counter()
    for seed in gsm8k_train[:400]:
        try:
            q = REGISTRY["reverse"].exact(seed, 0)
        except Reject as e:
            methods[str(e)] += 1
            continue
        methods[q.gold_method] += 1
        _check_reverse(seed, q)
        if q.solution_trusted:
            assert q.solution.endswith(f"#### {q.gold}") and calc.all_annotations_valid(q.solution)
            f = re.search(r"so (.+) = (\S+)\.\nSolving for x gives x = (\S+)\.", q.solution)
            assert f.group(3) == q.gold and f.group(2) == seed.answer
            at_gold = sympy.sympify(f.group(1)).subs(sympy.Symbol("x"), sympy.Rational(q.gold))
            assert at_gold == sympy.Rational(seed.answer)
    # measured over all 7,473 train seeds: 67.1% exact, 29.1% masked-number (sampled paths), 3.8% rejected
    assert methods["exact-chain"] >= 240, methods


def test_reverse_on_math_masks_a_number_as_X(math_train):
    made = 0
    for seed in math_train[:200]:
        try:
            q = REGISTRY["reverse"].exact(seed, 0)
        except Reject:
            continue
        made += 1
        assert q.gold_method == "masked-number" and not q.solution_trusted and q.gold.isdigit()
        _check_reverse(seed, q)
    assert made >= 120


def test_selfverify_parser_checks_the_unknown_the_answer_and_leaks():
    seed = seed_with(PACKAGED["gsm8k"], "Natalia sold clips")
    sv = REGISTRY["selfverify"]
    good = f"Natalia sold clips to x of her friends in April and half as many in May, {seed.answer} in all. What is x?"
    assert sv.parse(seed, good, 0, "m", {}).gold == "48"
    assert "Natalia sold clips to x of her friends" in sv.messages(seed, 0)[1]["content"]
    with pytest.raises(Reject, match="unknown variable missing"):
        sv.parse(seed, f"Natalia sold {seed.answer} clips in April and May. How many did she sell in April?",
                 0, "m", {})
    with pytest.raises(Reject, match="answer not stated"):
        sv.parse(seed, "Natalia sold clips to x friends in April and 2 times fewer in May. What is x?", 0, "m", {})
    with pytest.raises(Reject, match="given away"):
        sv.parse(seed, f"Natalia sold 48 clips to x friends, {seed.answer} in all. What is x?", 0, "m", {})


def test_paths_query_is_the_seed_itself():
    seed = PACKAGED["math"][0]
    q = REGISTRY["paths"].exact(seed, 0)
    assert q.question == seed.question and q.gold == seed.answer and q.gold_method == "seed-gold"
    assert solver_messages(q.question, "math")[-1] == {"role": "user", "content": seed.question.strip()}


def test_verification_on_recorded_paths():
    """RFT filtering and majority votes on real SmolLM2 reasoning paths (mostly wrong: a 135M model)."""
    paths = [r for r in recorded_outputs("smollm2_outputs.jsonl") + recorded_outputs("smollm2_outputs_gsm8k.jsonl")
             if r["kind"] == "path"]
    assert len(paths) >= 15
    reasons = Counter()
    for seed_id in {r["seed_id"] for r in paths}:
        seed = BY_ID[seed_id]
        texts = [r["text"] for r in paths if r["seed_id"] == seed_id]
        kind = seed.source
        verdicts = filter_paths(texts, seed.answer, kind)
        for v, text in zip(verdicts, texts):
            reasons[v.reason] += 1
            if v.kept:
                assert grading.is_equiv(seed.answer, text, kind)
                if kind == "gsm8k":
                    assert calc.all_annotations_valid(text)
            elif v.reason == "wrong answer":
                assert not grading.is_equiv(seed.answer, text, kind)
        vote = majority(texts, kind)
        assert vote.total == len(texts) and 0 <= vote.agreement <= 1
    assert reasons["wrong answer"] + reasons["no answer in path"] > 0, reasons


def test_majority_vote_clusters_equivalent_answers():
    texts = ["so it is 1/2\n#### 0.5", "#### 0.5", "The answer is \\boxed{\\frac{1}{2}}", "#### 3", "no idea"]
    vote = majority(texts, "gsm8k")
    assert vote.votes == 3 and vote.total == 5 and vote.agreement == pytest.approx(0.6)
    assert decide(vote, 0.5) is None
    assert decide(vote, 0.7) == "agreement below threshold"
    assert decide(majority(["#### 4", "#### 5"], "gsm8k"), 0.5) == "too few agreeing paths"
    assert decide(majority(["nothing", "at all"], "gsm8k"), 0.5) == "no path gave an answer"


def test_filter_paths_rft_rules():
    good = "He buys 3*4=<<3*4=12>>12 apples.\n#### 12"
    same_equations = "So 3*4 = <<3*4=12>>12 in all.\n#### 12"
    bad_annotation = "He buys 3*4=<<3*4=13>>12 apples.\n#### 12"
    other = "4+4+4 = <<4+4+4=12>>12\n#### 12"
    wrong = "3+4=<<3+4=7>>7\n#### 7"
    verdicts = filter_paths([good, same_equations, bad_annotation, other, wrong, "I think"], "12", "gsm8k")
    assert [v.reason for v in verdicts] == [None, "duplicate path", "annotation does not evaluate", None,
                                            "wrong answer", "no answer in path"]
