"""MuggleMath query evolution through an LLM, shared by the LLM rewrite strategies.

MuggleMath query evolution through an LLM: the machinery shared by numbers/fraction/combine/conditional/
complexity (and, with its own instruction, rephrase).

The generator sees one worked example of the same rewrite (MuggleMath shows the model a seed rewritten five
ways; here each strategy gets its own request so each output is labelled by construction) and the seed.
- GSM8K: it writes only the new question; its answer is unknown, so the augment stage samples k paths and
  takes the majority (gold_method "majority").
- MATH: it writes the new problem and a full solution ending in \\boxed{}; that solution's answer joins the
  vote over the sampled paths.
The parser is tolerant of chatty small models (labels, markdown, quotes, a solution tacked on, the prompt
echoed back) and strict about what it keeps: a self-contained question with a number in it, not a copy of
the seed or of the example.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from augmath.grading import last_boxed
from augmath.sources import Record
from augmath.augment.strategies import Query, Reject, Strategy

SYSTEM = "You are an experienced math teacher who writes new practice problems based on existing ones."

GSM8K_TEMPLATE = """Write one new grade school math word problem based on the original problem below.
How to change it: {instruction}
The new problem must make sense on its own, be solvable, and have exactly one numerical answer. Write only the new problem. Do not solve it.

Original problem: {example_seed}
New problem: {example_new}

Original problem: {seed}
New problem:"""

MATH_TEMPLATE = """Write one new competition math problem based on the original problem below, then solve it.
How to change it: {instruction}
The new problem must be well posed with a single final answer. Use this format exactly:
Problem: <the new problem>
Solution: <a complete step-by-step solution that ends with the final answer in \\boxed{{}}>

Original problem: {example_seed}
Problem: {example_new}
Solution: {example_solution}

Original problem: {seed}
"""

EXAMPLE_GSM8K = ("Tom has 5 apples. He buys 3 bags with 4 apples in each bag. "
                 "How many apples does Tom have now?")
EXAMPLE_MATH = "What is the sum of the solutions of $x^2 - 5x + 6 = 0$?"


@dataclass(frozen=True)
class Example:
    gsm8k: str  # EXAMPLE_GSM8K rewritten by this strategy
    math: str  # EXAMPLE_MATH rewritten by this strategy
    math_solution: str


_LABEL_RE = re.compile(r"^\s*(?:\*\*|#+\s*)?(?:new|rewritten|rephrased|revised|modified)?\s*"
                       r"(?:problem|question)\s*(?:\d+)?\s*(?:\*\*)?\s*[:：]\s*(?:\*\*)?\s*", re.I)
_STOP_RE = re.compile(r"\n\s*(?:\*\*|#+\s*)?(?:solution|answer|explanation|step\s*1|original problem|note|"
                      r"example|let'?s|to solve|here'?s)\b|\n\s*\n\s*\n", re.I)
# "he writes 3x2 = 6 pages": a problem statement does not show its own arithmetic
_WORKED_RE = re.compile(r"\d\s*[-+*/x×÷]\s*\$?\d[\d.,]*\s*=\s*\$?\d")
_SOLUTION_RE = re.compile(r"(?:^|\n)\s*(?:\*\*|#+\s*)?solution\s*(?:\*\*)?\s*[:：]\s*(?:\*\*)?", re.I)


def normalize(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def clean_question(text: str, seed: Record, example_new: str, need_question_mark: bool = True) -> str:
    """The new question in a model's output, or Reject(reason)."""
    text = text.replace("\r", "").strip()
    if not text:
        raise Reject("empty output")
    # Keep what follows the last "New problem:"-style label (models often echo the prompt first).
    labels = list(_LABEL_RE.finditer(text)) or list(re.finditer(r"(?im)^\s*(?:new )?(?:problem|question)\s*:\s*", text))
    if labels:
        text = text[labels[-1].end():]
    stop = _STOP_RE.search("\n" + text)
    if stop:
        text = ("\n" + text)[:stop.start()]
    text = re.sub(r"\s+", " ", text).strip().strip('"“”*`').strip()
    if need_question_mark:
        if "?" not in text:
            raise Reject("no question asked")
        text = text[:text.rfind("?") + 1]
    if len(text) < 25:
        raise Reject("too short")
    if len(text) > 2000:
        raise Reject("too long")
    if not re.search(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten)\b", text, re.I):
        raise Reject("no numbers")
    if _WORKED_RE.search(text):
        raise Reject("contains a worked calculation")
    if normalize(text) == normalize(seed.question):
        raise Reject("copy of the seed")
    if normalize(text) in {normalize(example_new), normalize(EXAMPLE_GSM8K), normalize(EXAMPLE_MATH)}:
        raise Reject("copy of the prompt example")
    return text


_WORD_RE = re.compile(r"[a-z]{4,}")
_NUMS_RE = re.compile(r"\d+(?:\.\d+)?")


def numbers_in(text: str) -> Counter:
    return Counter(_NUMS_RE.findall(text.replace(",", "")))


def require_related(question: str, seed: Record, minimum: float = 0.2) -> None:
    """A rewrite keeps the seed's setting: at least `minimum` of its longer words. Unrelated text (a model
    talking about the task instead of doing it) is rejected."""
    seed_words = set(_WORD_RE.findall(seed.question.lower()))
    if seed_words and len(seed_words & set(_WORD_RE.findall(question.lower()))) < minimum * len(seed_words):
        raise Reject("unrelated to the seed")


def require_numbers_kept(question: str, original: str) -> None:
    """Every number of `original` still appears (as often) in `question`."""
    if numbers_in(original) - numbers_in(question):
        raise Reject("numbers changed")


def split_math(text: str) -> tuple[str, str]:
    """(problem, solution) from a 'Problem: ... Solution: ...' output, or Reject(reason)."""
    m = _SOLUTION_RE.search(text)
    if not m:
        raise Reject("no solution")
    problem, solution = text[:m.start()], text[m.end():].strip()
    problem = _LABEL_RE.sub("", problem.strip(), count=1)
    if last_boxed(solution) is None:
        raise Reject("solution has no \\boxed{} answer")
    # Cut anything after the boxed answer's sentence (a model may start another "Original problem:").
    tail = re.search(r"\n\s*(?:original problem|problem)\s*:", solution, re.I)
    if tail and last_boxed(solution[:tail.start()]) is not None:
        solution = solution[:tail.start()].strip()
    return problem, solution


class EvolveStrategy(Strategy):
    """One MuggleMath rewrite; optionally an exact offline path for GSM8K seeds (numbers)."""

    def __init__(self, name: str, instruction: str, example: Example, description: str = "",
                 exact: Callable[[str, str, str, int], tuple[str, str, str]] | None = None):
        self.name = name
        self.instruction = instruction
        self.example = example
        self.description = description or instruction
        self._exact = exact
        self.template = "\n".join([SYSTEM, instruction, GSM8K_TEMPLATE, MATH_TEMPLATE, EXAMPLE_GSM8K,
                                   example.gsm8k, EXAMPLE_MATH, example.math, example.math_solution])

    def needs_llm(self, source: str) -> bool:
        return not (self._exact is not None and source == "gsm8k")

    def exact(self, seed: Record, round_index: int) -> Query | None:
        if self._exact is None or seed.source != "gsm8k":
            return None
        question, solution, answer = self._exact(seed.id, seed.question, seed.solution or "", round_index)
        return Query(seed, self.name, round_index, question, answer, "exact-chain", "exact", self.prompt_hash,
                     {}, solution, solution_trusted=True)

    def messages(self, seed: Record, round_index: int) -> list[dict]:
        if seed.source == "math":
            user = MATH_TEMPLATE.format(instruction=self.instruction, example_seed=EXAMPLE_MATH,
                                        example_new=self.example.math, example_solution=self.example.math_solution,
                                        seed=seed.question.strip())
        else:
            user = GSM8K_TEMPLATE.format(instruction=self.instruction, example_seed=EXAMPLE_GSM8K,
                                         example_new=self.example.gsm8k, seed=seed.question.strip())
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]

    def parse(self, seed: Record, text: str, round_index: int, model: str, sampling: dict) -> Query:
        if seed.source == "math":
            problem, solution = split_math(text)
            question = clean_question(problem, seed, self.example.math, need_question_mark=False)
            require_related(question, seed)
            return Query(seed, self.name, round_index, question, None, "majority", model, self.prompt_hash,
                         sampling, solution)
        question = clean_question(text, seed, self.example.gsm8k)
        require_related(question, seed)
        return Query(seed, self.name, round_index, question, None, "majority", model, self.prompt_hash, sampling)
