"""Answer verification for sampled reasoning paths: the solver prompt, RFT filtering, majority votes.

RFT filtering keeps the paths that reach a known gold; majority votes decide where no gold exists.

- `filter_paths(texts, gold, kind)`: RFT's rule. A path is kept when its final answer matches the gold
  (augmath.grading.grader, so 0.5 and 1/2 agree), its GSM8K <<a=b>> annotations all evaluate (augmath.augment.calc), and
  its equation list differs from every path kept before (MATH: its normalised text). Every path gets a
  verdict with the reason it was dropped. Which path stands for a set of duplicates, and which survive a
  cap of `keep` paths, is the `selection` (`--path-selection`):
    first    the first seen (default);
    diverse  as RFT's released collect_rejection_sampling.py (OFA-Sys/gsm8k-ScRel): a later duplicate
             replaces the kept one when its summed edit distance to the other kept paths is larger; and
             over the cap, paths are added greedily by the largest summed edit distance to those already
             kept, starting from the first (ties: the earlier path). Edit distance: character-level
             Levenshtein (rapidfuzz), as RFT's `editdistance.eval`.
- `majority(texts, kind)`: cluster the extracted answers with grading.same_answer, take the largest
  cluster, report agreement = cluster size / number of paths (paths with no answer count against
  agreement). `decide(...)` applies the --min-agreement threshold and refuses ties: the largest cluster
  must hold more than half of the answers given (a 2-2 or 2-1-1 vote never passes).
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


def filter_paths(texts: list[str], gold: str | None, kind: str, agree_with: str | None = None,
                 selection: str = "first", keep: int | None = None) -> list[PathVerdict]:
    """RFT filtering. With gold=None, `agree_with` (a majority answer) plays the gold."""
    if selection not in SELECTIONS:
        raise ValueError(f"unknown path selection {selection!r}; valid: {', '.join(SELECTIONS)}")
    target = gold if gold is not None else agree_with
    verdicts: list[PathVerdict | None] = [None] * len(texts)
    answers: dict[int, str] = {}
    reps: dict[str, int] = {}  # dedup key -> index of the path standing for it (insertion order = first seen)
    for i, text in enumerate(texts):
        answer = grading.extract(text, kind)
        if answer is None:
            verdicts[i] = PathVerdict(i, None, False, "no answer in path")
            continue
        if target is None or not grading.is_equiv(target, answer, kind):
            verdicts[i] = PathVerdict(i, answer, False, "wrong answer")
            continue
        if kind == "gsm8k" and not calc.all_annotations_valid(text):
            verdicts[i] = PathVerdict(i, answer, False, "annotation does not evaluate")
            continue
        answers[i] = answer
        key = _path_key(text, kind)
        if key not in reps:
            reps[key] = i
            continue
        now, loser = reps[key], i
        if selection == "diverse":  # RFT: the duplicate farther from the other kept paths stands for the set
            others = [texts[j] for j in reps.values() if texts[j] != texts[now]]
            if _spread(texts[i], others) > _spread(texts[now], others):
                reps[key], loser = i, now
        verdicts[loser] = PathVerdict(loser, answers[loser], False, "duplicate path")
    kept = list(reps.values())
    if keep is not None and len(kept) > keep:
        chosen = kept[:keep] if selection == "first" else _most_diverse(texts, kept, keep)
        why = "over the --keep-paths cap" if selection == "first" else "less diverse than the kept paths"
        for i in set(kept) - set(chosen):
            verdicts[i] = PathVerdict(i, answers[i], False, why)
        kept = chosen
    for i in kept:
        verdicts[i] = PathVerdict(i, answers[i], True, None)
    return verdicts


SELECTIONS = ("first", "diverse")


def _spread(text: str, others: list[str]) -> int:
    """Summed character-level edit distance from `text` to `others`."""
    from rapidfuzz.distance import Levenshtein

    return sum(Levenshtein.distance(text, o) for o in others)


def _most_diverse(texts: list[str], candidates: list[int], keep: int) -> list[int]:
    """Greedy: the first candidate, then repeatedly the one with the largest summed edit distance to those
    already chosen (ties: the earlier). Returned in path order."""
    chosen = [candidates[0]]
    rest = candidates[1:]
    while len(chosen) < keep:
        best = max(rest, key=lambda i: (_spread(texts[i], [texts[j] for j in chosen]), -i))
        chosen.append(best)
        rest.remove(best)
    return sorted(chosen)


@dataclass(frozen=True)
class Vote:
    answer: str | None  # the majority answer (as first written), None if no path had an answer
    votes: int
    total: int
    clusters: list[tuple[str, int]]  # (answer, count), largest first

    @property
    def tie(self) -> bool:
        """The two largest answers got as many votes: no answer has a strict majority over the others."""
        return len(self.clusters) > 1 and self.clusters[0][1] == self.clusters[1][1]

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
    """None when the vote settles the answer, else the reason the query is dropped. A tie between the two
    largest answers is never a majority, whatever `min_agreement` says (a 2-2 vote would otherwise take the
    answer seen first)."""
    if vote.answer is None:
        return "no path gave an answer"
    if vote.votes < min_votes:
        return "too few agreeing paths"
    if vote.tie:
        return "tied vote"
    if 2 * vote.votes <= sum(n for _, n in vote.clusters):
        return "no strict majority"  # 2-1-1: the largest answer is not more than half of those given
    if vote.agreement < min_agreement:
        return "agreement below threshold"
    return None
