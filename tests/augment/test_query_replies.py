"""Strong-generator replies (issue #27): the parser keeps exactly the question the model wrote, whatever the
wrapping, and never keeps reply framing. The corpus is tests/data/query_replies.jsonl (built by
tests/fixtures/build_query_replies.py); benchmarks/query_replies.py prints its per-format table."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from augmath.augment.queries import Pending, parse_queries
from augmath.augment.replies import framing, unwrap
from augmath.augment.rows import Tally
from augmath.augment.strategies import EVOLUTION, REGISTRY, Query, Reject
from augmath.augment.strategies.evolve import clean_question, numbers_in, require_related, split_math
from augmath.augment.strategies.paper import PAPER, split_items
from augmath.augment.verify import Vote, decide, majority
from augmath.sources import Record, load

# found by walking up, so the file may live in a tests/ subfolder
REPO = next(p for p in Path(__file__).resolve().parents if (p / "benchmarks" / "query_replies.py").exists())
CORPUS = [json.loads(line) for line in (REPO / "tests" / "data" / "query_replies.jsonl").read_text().splitlines()
          if line]
SEEDS = {r.id: r for source in ("gsm8k", "math") for r in load(source, "train", "packaged")}
sys.path.insert(0, str(REPO / "benchmarks"))
import query_replies  # noqa: E402  (the benchmark's scorer: one definition of "clean")


def _parse(row: dict) -> dict:
    seed = SEEDS[row["seed_id"]]
    if row["strategy"] == "paper":
        return PAPER.parse(seed, row["reply"], 0, "m", {}, EVOLUTION)
    try:
        return {row["strategy"]: REGISTRY[row["strategy"]].parse(seed, row["reply"], 0, "m", {})}
    except Reject as e:
        return {row["strategy"]: e}


def test_corpus_covers_every_strategy_style_and_source():
    seen = {(r["style"], r["source"], r["strategy"]) for r in CORPUS}
    for source in ("gsm8k", "math"):
        assert ("paper", source, "paper") in seen
        for name in EVOLUTION + ["rephrase", "selfverify"]:
            assert ("per-strategy", source, name) in seen, (source, name)
    assert len({r["format"] for r in CORPUS}) >= 40 and len(CORPUS) > 1000


@pytest.mark.parametrize("row", CORPUS, ids=[r["id"] for r in CORPUS])
def test_reply_gives_exactly_the_question(row):
    results = _parse(row)
    for name, expected in row["expected"].items():
        got = results[name]
        if expected is None:
            assert isinstance(got, Reject) and str(got) == row["reasons"][name], got
            continue
        assert isinstance(got, Query), f"{name}: dropped: {got}"
        assert " ".join(got.question.split()) == " ".join(expected.split())
        assert framing(got.question, SEEDS[row["seed_id"]].question) is None


def test_corpus_rates_meet_the_bar():
    """>= 97% of valid replies kept clean, 0 kept polluted, every no-question reply dropped for its reason."""
    results = query_replies.outcomes(CORPUS)
    valid = [r for r in results if r["expected"] is not None]
    clean = sum(r["outcome"] == "clean" for r in valid)
    assert sum(r["outcome"] == "polluted" for r in valid) == 0
    assert clean / len(valid) >= 0.97, clean / len(valid)
    assert all(r["outcome"] == "dropped as expected" for r in results if r["expected"] is None)


@pytest.mark.parametrize("source", ["gsm8k", "math"])
def test_real_questions_as_plain_replies_come_back_unchanged(source):
    """Every packaged train question, written back as a plain reply (to another seed), is kept as it is: the
    unwrapping takes off nothing that belongs to a problem (its own "Note that ...", "Below is the graph")."""
    records = load(source, "train", "packaged")
    other = records[0]
    changed = []
    for r in records[1:]:
        try:
            got = clean_question(r.question, other, "x", need_question_mark=source == "gsm8k")
        except Reject as e:
            changed.append((r.id, str(e)))
            continue
        if got != " ".join(r.question.split()):
            changed.append((r.id, got))
    assert len(changed) <= 2, changed  # measured: 0 of 199 (GSM8K), 0 of 199 (MATH)
    # and the framing check flags no real question, even without the seed to compare with
    assert [r.id for r in records if framing(" ".join(r.question.split()))] == []


@pytest.mark.parametrize("question, what", [
    ("Here is the new problem: Tom has 5 apples. How many?", "a leading preamble"),
    ("Sure! Tom has 5 apples and buys 3 more. How many does he have?", "a leading preamble"),
    ("New problem: Tom has 5 apples and buys 3 more. How many does he have?", "a label"),
    ("New Problem Tom has 5 apples and buys 3 more. How many does he have?", "a label"),
    ("### Tom has 5 apples and buys 3 more. How many does he have?", "heading marks"),
    ("1. Tom has 5 apples and buys 3 more. How many does he have?", "a list number"),
    ("**Tom** has 5 apples and buys 3 more. How many does he have?", "bold marks"),
    ("```Tom has 5 apples and buys 3 more. How many does he have?```", "a code fence"),
    ('{"question": "Tom has 5 apples and buys 3 more. How many does he have?"}', "JSON around the question"),
    ("> Tom has 5 apples and buys 3 more. How many does he have?", "a block quote mark"),
    ("Tom has 5 apples and buys 3 more. How many does he have? This version adds a purchase.", "a trailing note"),
    ("Tom has 5 apples and buys 3 more. How many does he have? Note: the original had 4 apples.", "a trailing note"),
    ("Find the sum of $2$ and $3$. Final answer: $\\boxed{5}$", "an answer"),
    ("Tom has 5 apples. Original problem: Tom has 4 apples. How many?", "prompt scaffolding"),
    ("Tom has 5 apples and buys 3 more. How many does he have?", None),
    ("Below is a portion of the graph of $y=f(x)$. What is $f(3)$?", None),
    ("If $z=3+4i$, find $z^2$. (Note that $i^2 = -1.$)", None),
])
def test_framing_check(question, what):
    assert framing(question) == what


def test_framing_in_the_seed_itself_is_not_framing():
    seed = "Find $x$. Note that the original figure is not drawn to scale."
    assert framing("Find $x + 1$. Note that the original figure is not drawn to scale.") == "a trailing note"
    assert framing("Find $x + 1$. Note that the original figure is not drawn to scale.", seed) is None


def test_pipeline_drops_a_kept_query_that_still_holds_framing():
    """parse_queries checks every kept query again: a parser that let framing through (here one that keeps
    the whole reply) cannot get it into the data."""
    seed = SEEDS["gsm8k/train/0"]

    class KeepsAll(type(REGISTRY["fraction"])):
        def parse(self, seed, text, round_index, model, sampling):
            return Query(seed, self.name, round_index, text, None, "majority", model, self.prompt_hash, sampling)

    strategy = KeepsAll("fraction", "x", REGISTRY["fraction"].example)

    class Completion:
        text, model = "Here is the new problem: Natalia sold 48 clips. How many?", "m"

    dropped = []
    tally = Tally(["fraction"])
    out = parse_queries([Pending(seed, 0, [strategy], [])], {0: Completion()}, [{}], tally, dropped.append)
    assert out == [] and dropped[0]["reason"] == "reply framing left in the question (a leading preamble)"
    assert dropped[0]["detail"] == Completion.text


# ---- false refusals fixed (issue #27), one test each ---------------------------------------------------------
def test_paper_style_seed_that_is_the_prompt_example_keeps_its_evolutions():
    james = SEEDS["gsm8k/train/4"]
    reply = ("1. **Introduce fractions or percentages**: James writes a 3-page letter to 2 different friends twice a "
             "week. Each letter to his best friend is 50% longer than the other. How many pages does he write in a "
             "year?")
    assert isinstance(PAPER.parse(james, reply, 0, "m", {}, ["fraction"])["fraction"], Query)
    natalia = SEEDS["gsm8k/train/0"]  # for another seed the example's sentence is still the example echoed back
    assert str(PAPER.parse(natalia, reply, 0, "m", {}, ["fraction"])["fraction"]) == "copy of the prompt example"


@pytest.mark.parametrize("seed_id, rewrite", [
    ("math/train/algebra/27", "Compute $\\log_8 \\frac{1}{2}$."),  # "Evaluate $\\log_8 2$.": one long word
    ("math/train/algebra/27", "If $\\log_8 x = \\frac{2}{3}$, what is $x$?"),
])
def test_math_seed_with_few_words_is_judged_by_its_mathematics(seed_id, rewrite):
    require_related(rewrite, SEEDS[seed_id])
    with pytest.raises(Reject, match="unrelated"):
        require_related("To make it harder, add another term to the sum and ask for it.", SEEDS[seed_id])


def test_selfverify_answer_that_contains_the_masked_number_is_not_a_giveaway():
    # masked 24 (x), answer 24: the stated answer holds the masked number, which gives nothing away
    seed = Record("gsm8k/train/x", "gsm8k", "train", "Tom had 24 apples. He ate 6 of them and then picked 6 more. "
                  "How many apples does he have now?", "He had 24 - 6 = <<24-6=18>>18 apples.\nThen 18 + 6 = "
                  "<<18+6=24>>24 apples.\n#### 24", "24")
    strategy = REGISTRY["selfverify"]
    masked, value, _ = strategy._masked(seed, 0)
    assert value == "24" and masked.startswith("Tom had x apples.")
    q = strategy.parse(seed, "Tom had x apples. He ate 6 of them and then picked 6 more, and now he has 24 apples. "
                             "What is the value of x?", 0, "m", {})
    assert q.gold == "24"
    with pytest.raises(Reject, match="given away"):  # a second 24, beyond the stated answer, still is
        strategy.parse(seed, "Tom had x apples, which is 24. He ate 6 of them and then picked 6 more, and now he "
                             "has 24 apples. What is the value of x?", 0, "m", {})


def test_money_written_with_cents_keeps_its_number():
    assert numbers_in("It costs $18.00 and 1,200.50 more") == numbers_in("It costs $18 and 1200.5 more")
    seed = Record("gsm8k/train/y", "gsm8k", "train", "A shirt costs $18.00 and a hat costs $7.50. How much do "
                  "both cost together?", "18+7.5=<<18+7.5=25.5>>25.5\n#### 25.5", "25.5")
    q = REGISTRY["rephrase"].parse(seed, "Rephrased problem: A shirt is $18 and a hat is $7.50. What do the shirt "
                                         "and the hat cost together?", 0, "m", {})
    assert q.question.startswith("A shirt is $18 and")


@pytest.mark.parametrize("reply, expected", [
    ("New problem: Natalia sold clips to 48 of her friends in April and 30 in May. Calculate the total number of "
     "clips she sold.", "Natalia sold clips to 48 of her friends in April and 30 in May. Calculate the total "
                        "number of clips she sold."),
    ("Natalia sold clips to 48 friends in April and x friends in May, 72 clips in all. Find x.",
     "Natalia sold clips to 48 friends in April and x friends in May, 72 clips in all. Find x."),
    ("If Natalia sold 48 clips in April and half as many in May, calculate how many she sold in total.",
     "If Natalia sold 48 clips in April and half as many in May, calculate how many she sold in total."),
])
def test_imperative_questions_are_questions(reply, expected):
    assert clean_question(reply, SEEDS["gsm8k/train/0"], "example") == expected


def test_math_solution_headings_with_or_without_colon():
    for heading in ("Solution:", "**Solution**", "### Solution", "**Solution:**", "Step-by-step solution:"):
        problem, solution = split_math(f"Problem: Find $2+3$.\n\n{heading}\nWe add: $\\boxed{{5}}$.")
        assert unwrap(problem).strip() == "Find $2+3$." and solution.endswith("$\\boxed{5}$."), heading


def test_paper_items_in_every_layout_map_to_their_strategy():
    qs = {n: f"Natalia sold {i * 10} clips in April and half as many in May. How many clips did she sell?"
          for i, n in enumerate(EVOLUTION, 1)}
    label = {"numbers": "Change specific numbers", "fraction": "Introduce fractions or percentages",
             "combine": "Combine multiple concepts", "conditional": "Include a conditional statement",
             "complexity": "Increase the complexity of the problem"}
    order = list(reversed(EVOLUTION))  # out of order: the label decides, not the position
    for reply in ("\n\n".join(f"### {i}. {label[n]}\n{qs[n]}" for i, n in enumerate(order, 1)),
                  "\n".join(f"- **{label[n]}**: {qs[n]}" for n in order),
                  "\n\n".join(f"Question {i} ({label[n]}): {qs[n]}" for i, n in enumerate(order, 1)),
                  json.dumps([{"strategy": label[n], "question": qs[n]} for n in order])):
        items = split_items(reply)
        assert {n: clean_question(items[n], SEEDS["gsm8k/train/0"], "x") for n in EVOLUTION} == qs, reply[:60]


def test_paper_item_label_left_in_a_question_is_dropped_not_kept():
    """A separator the item reader does not know ("Label → question") leaves the label in the question: the
    paper parser drops it rather than keep "Change specific numbers → Natalia ..."."""
    reply = ("1. Change specific numbers → Natalia sold clips to 60 of her friends in April, and then she sold a "
             "third as many clips in May. How many clips did Natalia sell altogether in April and May?")
    got = PAPER.parse(SEEDS["gsm8k/train/0"], reply, 0, "m", {}, ["numbers"])["numbers"]
    assert str(got) == "reply framing left in the question (an item label)"
    dashed = reply.replace(" → ", " - ")  # the separators the reader knows: the label comes off
    assert PAPER.parse(SEEDS["gsm8k/train/0"], dashed, 0, "m", {}, ["numbers"])["numbers"].question.startswith(
        "Natalia sold clips to 60")


# ---- the vote: a strict majority, never a tie ---------------------------------------------------------------
@pytest.mark.parametrize("answers, min_agreement, reason", [
    (["#### 5", "#### 5", "#### 7", "#### 7"], 0.5, "tied vote"),
    (["#### 5", "#### 5", "#### 7", "#### 7"], 0.0, "tied vote"),  # whatever --min-agreement says
    (["#### 5", "#### 5", "#### 7", "#### 8"], 0.5, "no strict majority"),
    (["#### 5", "#### 5", "#### 5", "#### 7"], 0.5, None),
    (["#### 5", "#### 5", "no answer", "no answer"], 0.5, None),  # 2 of the 2 answers given
    (["#### 5", "#### 5", "#### 5", "#### 7"], 0.8, "agreement below threshold"),
])
def test_vote_requires_a_strict_majority(answers, min_agreement, reason):
    vote = majority(answers, "gsm8k")
    assert decide(vote, min_agreement) == reason
    assert vote.tie == (reason == "tied vote")


def test_tie_is_seen_in_the_clusters():
    assert Vote("5", 2, 4, [("5", 2), ("7", 2)]).tie and not Vote("5", 3, 4, [("5", 3), ("7", 1)]).tie
