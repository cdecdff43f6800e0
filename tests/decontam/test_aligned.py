"""augmath.decontam.aligned: the fuzzy decontamination stage's similarity, on real GSM8K / MATH / MAWPS wording."""

from __future__ import annotations

import pytest

from augmath.decontam.aligned import aligned_similarity, sentence_tokens, tokens

GSM8K_TEST_3 = ("James decides to run 3 sprints 3 times a week.  He runs 60 meters each sprint.  "
                "How many total meters does he run a week?")
GSM8K_TEST_11 = ("Toula went to the bakery and bought various types of pastries. She bought 3 dozen donuts which cost "
                 "$68 per dozen, 2 dozen mini cupcakes which cost $80 per dozen, and 6 dozen mini cheesecakes for $55 "
                 "per dozen. How much was the total cost?")


def sim(a: str, b: str, floor: float = 0.0) -> float:
    return aligned_similarity(sentence_tokens(a), sentence_tokens(b), floor)


@pytest.mark.parametrize("text, expected", [
    # numbers are one token; a run of numbers ("3 4") is one token; prose punctuation goes
    ("He runs 60 meters, 1,200.5 in all.", ["he", "runs", "NUM", "meters", "NUM", "in", "all"]),
    # a name in running text is NAME, and so is the same name at the start of a sentence; a capitalised word
    # seen only at sentence starts ("Toula") cannot be told from "The" and stays a word
    ("Toula went out. She met Juan. Juan ran.", ["toula", "went", "out", "she", "met", "NAME", "NAME", "ran"]),
    # math symbols stay: they are what tells two MATH problems of one template apart
    (r"What is $3 \times (7-5) - 5$?", ["what", "is", "NUM", "\\", "times", "(", "NUM", "-", "NUM", ")", "-", "NUM"]),
    # Asymptote code is plotting boilerplate shared across problems
    ("In the diagram [asy]draw((0,0)--(1,1));[/asy] find $x$.", ["in", "the", "diagram", "find", "x"]),
])
def test_tokens(text, expected):
    assert tokens(text) == expected


@pytest.mark.parametrize("query, item, low, high", [
    # the same problem with other numbers and another name: identical tokens
    ("Maria decides to run 4 sprints 5 times a week.  She runs 80 meters each sprint.  "
     "How many total meters does she run a week?", GSM8K_TEST_3, 0.85, 1.0),
    # sentences reordered and a lead-in added: the alignment puts them back
    ("Solve this: How many total meters does he run a week? James decides to run 3 sprints 3 times a week.  "
     "He runs 60 meters each sprint.", GSM8K_TEST_3, 0.9, 1.0),
    # MATH: one template, other numbers (the decontaminator must treat this as the test item)
    ("What is the remainder when $5^{207}$ is divided by 7?", "What is the remainder when $5^{30}$ is divided by 7?",
     1.0, 1.0),
    # MATH: same stock phrase, different expression: the symbols keep them apart
    (r"What is the value of $3 \times (7 - 5) - 5$?", "What is the value of $(7+5)^2-(7-5)^2$?", 0.0, 0.7),
    # another problem on the same topic (GSM8K test 11 vs a made-up bakery problem)
    ("A bakery sells 12 muffins an hour for 8 hours. How many muffins does it sell?", GSM8K_TEST_11, 0.0, 0.4),
    # MAWPS test 766 and a retelling of it with the words moved and a lead-in
    ("Here is a problem. How far did Esme go? Esme wandered for 3 hours at 2 miles per hour.",
     "If Anne wandered for 3 hours at 2 miles per hour. How far did Anne go?", 0.8, 0.95),
])
def test_aligned_similarity(query, item, low, high):
    assert low <= sim(query, item) <= high
    assert sim(query, item) == pytest.approx(sim(query, item, floor=low))


def test_floor_prunes_with_an_upper_bound():
    """Below the floor the answer is 0.0, never a wrong positive; empty texts are 0.0."""
    a, b = "A bakery sells 12 muffins an hour for 8 hours. How many muffins does it sell?", GSM8K_TEST_11
    assert sim(a, b) > 0 and sim(a, b, floor=0.9) == 0.0
    assert sim("", GSM8K_TEST_3) == 0.0 and sim("?!", GSM8K_TEST_3) == 0.0
