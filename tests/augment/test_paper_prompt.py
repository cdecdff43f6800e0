"""The `paper` prompt style (augmath/augment/strategies/paper.py): the request layout of the paper's appendix, and
the parser on constructed well-formed replies and on real recorded SmolLM2 replies."""

from __future__ import annotations

from collections import Counter

import pytest

from augmath.augment.strategies import EVOLUTION, Query, Reject
from augmath.augment.strategies.paper import PAPER, label_strategy, split_items
from augmath.sources import load
from augment_fixtures import recorded_outputs

GSM8K = load("gsm8k", "train", "packaged")
MATH = load("math", "train", "packaged")
NATALIA = GSM8K[0]  # "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May..."
RECTANGLE = next(r for r in MATH if r.question.startswith("The perimeter of a rectangle is 24 inches"))

# A well-formed reply in the appendix example's own layout, written for the Natalia seed.
GSM8K_REPLY = """Here are the new questions:

1. **Change specific numbers**: Natalia sold clips to 60 of her friends in April, and then she sold a third as many clips in May. How many clips did Natalia sell altogether in April and May?
2. **Introduce fractions or percentages**: Natalia sold clips to 48 of her friends in April, and then she sold 75% as many clips in May. How many clips did Natalia sell altogether in April and May?
3. **Combine multiple concepts**: Natalia sold clips to 48 of her friends in April for $2 each, and then she sold half as many clips in May for $3 each. How much money did Natalia make from the clips in April and May?
4. **Include a conditional statement**: Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. If she sold more than 70 clips in the two months, her boss gives her 10 extra clips. How many clips does Natalia have from April, May and the bonus?
5. **Increase the complexity of the problem**: Natalia sold clips to 48 of her friends in April, then half as many clips in May, and in June she sold 12 more clips than in May. How many clips did Natalia sell altogether in the three months?
"""

MATH_REPLY = r"""1. Change specific numbers:
Question1: The perimeter of a rectangle is 40 inches. What is the number of square inches in the maximum possible area for this rectangle?
Solution1: Let the sides be $x$ and $20-x$. The area is $x(20-x) = 100-(x-10)^2$, which is largest when
1. the square term is zero,
2. that is, $x = 10$.
So the maximum area is $\boxed{100}$. ##end1

2. Introduce fractions or percentages:
Question2: The perimeter of a rectangle is 24 inches, and one side is $\frac{1}{3}$ of the perimeter. What is the number of square inches in the area of this rectangle?
Solution2: One side is $\frac{1}{3} \cdot 24 = 8$ inches, so the other is $12-8=4$ inches, and the area is $8 \cdot 4 = \boxed{32}$. ##end2

3. Combine multiple concepts:
Question3: The perimeter of a rectangle is 24 inches and its area is maximal. What is the length of its diagonal in inches?
Solution3: The maximal area is reached by the square of side 6 inches, whose diagonal is $6\sqrt{2}$, so the answer is $\boxed{6\sqrt{2}}$. ##end3

4. Include a conditional statement:
Question4: The perimeter of a rectangle is 24 inches. If its length must be at least twice its width, what is the maximum possible area in square inches of this rectangle?
Solution4: With width $w$ the length is $12-w \ge 2w$, so $w \le 4$. The area $w(12-w)$ increases for $w<6$, so the maximum is at $w=4$: $4 \cdot 8 = \boxed{32}$. ##end4

5. Increase the complexity of the problem:
Question5: The perimeter of a rectangle is 24 inches and its sides are whole numbers of inches. How many different areas, in square inches, can the rectangle have?
Solution5: The sides are $w$ and $12-w$ for $w = 1, \dots, 6$, giving areas 11, 20, 27, 32, 35 and 36, so there are $\boxed{6}$. ##end5
"""


def test_gsm8k_request_is_the_appendix_prompt_then_the_seed():
    messages = PAPER.messages(NATALIA)
    assert len(messages) == 1 and messages[0]["role"] == "user"
    text = messages[0]["content"]
    assert text.startswith("I want you to act as a math teacher. I will provide a grade school math question")
    labels = ["Change specific numbers", "Introduce fractions or percentages", "Combine multiple concepts",
              "Include a conditional statement", "Increase the complexity of the problem"]
    positions = [text.index(f"{i}. **{label}**: James") for i, label in enumerate(labels, 1)]
    assert positions == sorted(positions)  # the worked example rewritten five ways, in the paper's order
    assert text.endswith("Now you are given the question:\n" + NATALIA.question)


def test_math_request_shows_the_seed_with_its_solution():
    text = PAPER.messages(RECTANGLE)[0]["content"]
    assert text.startswith("I want you to act as a math teacher. You should think of some ways to help students")
    assert "Question4: XX\nSolution4: XX ##end4" in text  # the appendix leaves variations 4 and 5 to the model
    assert text.endswith(f"Question0: {RECTANGLE.question}\nSolution0: {RECTANGLE.solution}\n"
                         "Please response with the given example format(including Questions and solutions)")


def test_prompt_hash_differs_from_every_per_strategy_prompt():
    from augmath.augment.strategies import REGISTRY

    assert PAPER.prompt_hash not in {s.prompt_hash for s in REGISTRY.values()}
    assert len(PAPER.prompt_hash) == 12


def test_well_formed_gsm8k_reply_gives_five_labelled_queries():
    out = PAPER.parse(NATALIA, GSM8K_REPLY, 1, "query-model", {"temperature": 0.7}, EVOLUTION)
    assert list(out) == EVOLUTION and all(isinstance(q, Query) for q in out.values()), out
    assert out["fraction"].question.startswith("Natalia sold clips to 48 of her friends in April, and then she sold 75%")
    assert out["complexity"].question.endswith("altogether in the three months?")
    for name, q in out.items():
        assert q.strategy == name and q.round == 1 and q.generator == "query-model"
        assert q.gold is None and q.gold_method == "majority" and q.solution is None
        assert q.prompt_hash == PAPER.prompt_hash and q.sampling == {"temperature": 0.7}


def test_labels_decide_the_strategy_and_numbers_decide_without_them():
    lines = [line for line in GSM8K_REPLY.splitlines() if "**: " in line]
    expected = PAPER.parse(NATALIA, GSM8K_REPLY, 0, "m", {}, EVOLUTION)
    # the same items in reverse order, renumbered 1..5: the labels still name the right strategies
    reversed_reply = "\n".join(f"{i}. {line.split('. ', 1)[1]}" for i, line in enumerate(reversed(lines), 1))
    out = PAPER.parse(NATALIA, reversed_reply, 0, "m", {}, EVOLUTION)
    assert {k: q.question for k, q in out.items()} == {k: q.question for k, q in expected.items()}
    # without labels, an item's number decides: "1." is numbers, ..., "5." is complexity
    plain = "\n".join(f"{i}. {line.split('**: ', 1)[1]}" for i, line in enumerate(reversed(lines), 1))
    items = split_items(plain)
    assert list(items) == EVOLUTION and items["numbers"] == lines[4].split("**: ", 1)[1]


@pytest.mark.parametrize("label, strategy", [
    ("Change specific numbers", "numbers"), ("Introduce fractions or percentages", "fraction"),
    ("Combine multiple concepts", "combine"), ("Include a conditional statement", "conditional"),
    ("Increase the complexity of the problem", "complexity"), ("Percentages", "fraction"),
    ("Change the number of pages", "numbers"), ("Add the number of pages", None),
    ("Question", None), ("Tom has 3 boxes", None), (None, None),
])
def test_label_strategy(label, strategy):
    assert label_strategy(label) == strategy


@pytest.mark.parametrize("reply, strategy, reason", [
    (GSM8K_REPLY.split("4. **")[0], "conditional", "no item for this evolution in the reply"),
    (GSM8K_REPLY + "6. **Include a conditional statement**: Natalia sold 5 clips on Monday. How many now?",
     "conditional", None),  # "6." is not an item; the first conditional item stands
    (GSM8K_REPLY.replace("4. **Include a conditional statement**", "4. **Change specific numbers**"),
     "numbers", None),  # two items labelled numbers: the first is kept ...
    (GSM8K_REPLY.replace("4. **Include a conditional statement**", "4. **Change specific numbers**"),
     "conditional", "no item for this evolution in the reply"),  # ... and conditional has none of its own
    (GSM8K_REPLY.replace("3. **Combine multiple concepts**: Natalia sold clips to 48 of her friends in April for $2 "
                         "each, and then she sold half as many clips in May for $3 each. How much money did Natalia "
                         "make from the clips in April and May?",
                         "3. **Combine multiple concepts**: James writes a 3-page letter to 2 different friends twice "
                         "a week. He uses both sides of the paper and each side can hold 250 words. If James writes "
                         "100 words per minute, how long does it take for him to write all the letters in a week?"),
     "combine", "copy of the prompt example"),
    (GSM8K_REPLY.replace("How many clips did Natalia sell altogether in the three months?", "Solve it."),
     "complexity", "no question asked"),
])
def test_bad_items_are_rejected_with_a_reason(reply, strategy, reason):
    got = PAPER.parse(NATALIA, reply, 0, "m", {}, EVOLUTION)[strategy]
    if reason is None:
        assert isinstance(got, Query)
    else:
        assert isinstance(got, Reject) and str(got) == reason


def test_only_the_wanted_evolutions_are_returned():
    out = PAPER.parse(NATALIA, GSM8K_REPLY, 0, "m", {}, ["complexity", "fraction"])
    assert list(out) == ["complexity", "fraction"]


def test_well_formed_math_reply_gives_five_problems_with_solutions():
    out = PAPER.parse(RECTANGLE, MATH_REPLY, 0, "m", {}, EVOLUTION)
    assert all(isinstance(q, Query) for q in out.values()), out
    assert out["numbers"].question.startswith("The perimeter of a rectangle is 40 inches")
    # the numbered steps inside solution 1 are not items of their own
    assert out["numbers"].solution.endswith("So the maximum area is $\\boxed{100}$.")
    assert out["combine"].solution.endswith("$\\boxed{6\\sqrt{2}}$.") and "##end" not in out["combine"].solution
    assert "Question" not in out["complexity"].question and "Solution" not in out["complexity"].question
    assert all(q.gold_method == "majority" for q in out.values())


def test_math_item_without_a_boxed_answer_is_rejected():
    reply = MATH_REPLY.replace(r"$8 \cdot 4 = \boxed{32}$", "$8 \\cdot 4 = 32$")
    out = PAPER.parse(RECTANGLE, reply, 0, "m", {}, EVOLUTION)
    assert str(out["fraction"]) == "solution has no \\boxed{} answer" and isinstance(out["conditional"], Query)


KNOWN_REASONS = {"no item for this evolution in the reply", "empty output", "no question asked", "too short",
                 "too long", "no numbers", "copy of the seed",
                 "copy of the prompt example", "no solution", "solution has no \\boxed{} answer",
                 "unrelated to the seed", "contains a worked calculation"}


def test_recorded_smollm2_paper_replies_parse_or_are_rejected_with_a_reason():
    """Real replies of the embedded SmolLM2-135M to the paper prompt (tests/fixtures/smollm2_paper_outputs.jsonl,
    recorded by tests/fixtures/record_smollm2_outputs.py --paper). Each wanted evolution gets a query or a known
    reason; the small model mostly echoes the James example or talks about the task."""
    by_id = {r.id: r for r in GSM8K + MATH}
    outcomes: Counter = Counter()
    rows = recorded_outputs("smollm2_paper_outputs.jsonl")
    for row in rows:
        seed = by_id[row["seed_id"]]
        out = PAPER.parse(seed, row["text"], 0, row["model"], row["params"], EVOLUTION)
        assert list(out) == EVOLUTION
        for name, q in out.items():
            if isinstance(q, Reject):
                assert str(q) in KNOWN_REASONS, q
                outcomes[str(q)] += 1
            else:
                outcomes["parsed"] += 1
                assert q.generator == row["model"] and q.strategy == name
                assert seed.question.lower() not in q.question.lower()
    print(dict(outcomes))
    assert sum(outcomes.values()) == 5 * len(rows) and len(rows) >= 6
    assert outcomes == RECORDED_OUTCOMES


# Measured once on the 7 recorded replies (5 GSM8K, 2 MATH; pinned so a parser change shows up here): the model
# solves the seed instead, writes numbered "items" that explain the task ("**Change specific numbers**: We need to
# calculate ..."), or echoes the seed as Question0; nothing it writes is a usable query.
RECORDED_OUTCOMES = Counter({"no item for this evolution in the reply": 21, "no question asked": 14})
