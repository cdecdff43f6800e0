"""Answer verification for sampled reasoning paths: the solver prompt, RFT filtering against a known gold,
and majority votes where no gold exists.

- `filter_paths(texts, gold, kind)`: RFT's rule. A path is kept when its final answer matches the gold
  (augmath.grading.grader, so 0.5 and 1/2 agree), its GSM8K <<a=b>> annotations all evaluate (augmath.augment.calc), and
  its equation list differs from every path kept before (MATH: its normalised text). Every path gets a
  verdict with the reason it was dropped.
- `majority(texts, kind)`: cluster the extracted answers with grading.same_answer, take the largest
  cluster (ties: the one seen first), report agreement = cluster size / number of paths (paths with no
  answer count against agreement). `decide(...)` applies the --min-agreement threshold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from augmath.augment import calc

from augmath import grading

SOLVER_SYSTEM = {
    "gsm8k": ("You solve grade school math word problems step by step. After every calculation, write it "
              "as <<expression=result>> followed by the result, as in the example. End with a final line "
              "'#### <number>' that contains only the final numerical answer."),
    "math": ("You solve competition math problems. Reason step by step, and put the final answer in "
             "\\boxed{} at the end."),
}
SOLVER_EXAMPLE = {
    "gsm8k": ("A baker makes 24 muffins and sells them in boxes of 4. Each box costs $3. How much money does "
              "the baker get for all the muffins?",
              "The baker fills 24 / 4 = <<24/4=6>>6 boxes.\nThe boxes cost 6 * 3 = $<<6*3=18>>18 in total.\n"
              "#### 18"),
    "math": ("What is the value of $2^3 + 3^2$?",
             "We have $2^3 = 8$ and $3^2 = 9$, so the sum is $8 + 9 = 17$. The answer is $\\boxed{17}$."),
}
SOLVER_TEMPLATE = "\n".join([*SOLVER_SYSTEM.values(), *(t for pair in SOLVER_EXAMPLE.values() for t in pair)])


def solver_messages(question: str, kind: str) -> list[dict]:
    """The prompt for one reasoning path: system rule, one worked example, the question."""
    example_q, example_a = SOLVER_EXAMPLE[kind]
    return [{"role": "system", "content": SOLVER_SYSTEM[kind]},
            {"role": "user", "content": example_q}, {"role": "assistant", "content": example_a},
            {"role": "user", "content": question.strip()}]


@dataclass(frozen=True)
class PathVerdict:
    index: int
    answer: str | None
    kept: bool
    reason: str | None  # why it was dropped: no answer / wrong answer / bad annotation / duplicate path


def _path_key(text: str, kind: str) -> str:
    if kind == "gsm8k":
        key = calc.equation_key(text)
        if key:
            return key
    return re.sub(r"\s+", " ", text.strip().lower())


def filter_paths(texts: list[str], gold: str | None, kind: str, agree_with: str | None = None) -> list[PathVerdict]:
    """RFT filtering. With gold=None, `agree_with` (a majority answer) plays the gold."""
    target = gold if gold is not None else agree_with
    seen: set[str] = set()
    verdicts = []
    for i, text in enumerate(texts):
        answer = grading.extract(text, kind)
        if answer is None:
            verdicts.append(PathVerdict(i, None, False, "no answer in path"))
            continue
        if target is None or not grading.is_equiv(target, answer, kind):
            verdicts.append(PathVerdict(i, answer, False, "wrong answer"))
            continue
        if kind == "gsm8k" and not calc.all_annotations_valid(text):
            verdicts.append(PathVerdict(i, answer, False, "annotation does not evaluate"))
            continue
        key = _path_key(text, kind)
        if key in seen:
            verdicts.append(PathVerdict(i, answer, False, "duplicate path"))
            continue
        seen.add(key)
        verdicts.append(PathVerdict(i, answer, True, None))
    return verdicts


@dataclass(frozen=True)
class Vote:
    answer: str | None  # the majority answer (as first written), None if no path had an answer
    votes: int
    total: int
    clusters: list[tuple[str, int]]  # (answer, count), largest first

    @property
    def agreement(self) -> float:
        return self.votes / self.total if self.total else 0.0


def majority(texts: list[str], kind: str) -> Vote:
    answers = [grading.extract(t, kind) for t in texts]
    clusters: list[list] = []  # [representative, count]
    for answer in answers:
        if answer is None:
            continue
        for cluster in clusters:
            if cluster[0] == answer or grading.same_answer(cluster[0], answer, kind):
                cluster[1] += 1
                break
        else:
            clusters.append([answer, 1])
    ranked = sorted(clusters, key=lambda c: -c[1])  # stable: ties keep first-seen order
    if not ranked:
        return Vote(None, 0, len(texts), [])
    return Vote(ranked[0][0], ranked[0][1], len(texts), [(a, n) for a, n in ranked])


def decide(vote: Vote, min_agreement: float, min_votes: int = 2) -> str | None:
    """None when the vote settles the answer, else the reason the query is dropped."""
    if vote.answer is None:
        return "no path gave an answer"
    if vote.votes < min_votes:
        return "too few agreeing paths"
    if vote.agreement < min_agreement:
        return "agreement below threshold"
    return None
