"""MuggleMath query evolution through an LLM, shared by the LLM rewrite strategies.

MuggleMath query evolution through an LLM: the machinery shared by numbers/fraction/combine/conditional/
complexity (and, with its own instruction, rephrase).

The generator sees one worked example of the same rewrite (MuggleMath shows the model a seed rewritten five
ways; here each strategy gets its own request so each output is labelled by construction) and the seed.
- GSM8K: it writes only the new question; its answer is unknown, so the augment stage samples k paths and
  takes the majority (gold_method "majority").
- MATH: it writes the new problem and a full solution ending in \\boxed{}; that solution's answer joins the
  vote over the sampled paths.
The parser takes off the wrapping of chatty and of strong instruct models (augmath.augment.replies:
preambles, labels, markdown, quotes, fences, JSON, closing notes, a solution tacked on, the prompt echoed
back) and is strict about what it keeps: a self-contained question with a number in it, not a copy of
the seed or of the example.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable

from augmath.augment.replies import collapse, framing, json_fields, json_value, several_questions, unwrap
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


# "he writes 3x2 = 6 pages": a problem statement does not show its own arithmetic
_WORKED_RE = re.compile(r"\d\s*[-+*/x×÷]\s*\$?\d[\d.,]*\s*=\s*\$?\d")
# "Solution:", "**Solution**", "### Solution", "Solution 2:" on a line of its own or before the solution text
_SOLUTION_RE = re.compile(r"(?im)(?:^|\n)[ \t]*(?:#+[ \t]*)?(?:(?:\*\*|__)[ \t]*(?:step-by-step[ \t]+)?solution"
                          r"(?:[ \t]*\d)?[ \t]*[.:：]?[ \t]*(?:\*\*|__)[ \t]*[:：]?"  # "**Solution.**"
                          r"|(?:step-by-step[ \t]+)?solution(?:[ \t]*\d)?[ \t]*(?:[:：]|(?=\n)|$))[ \t]*(?:\*\*|__)?")
# the end of a question without "?": an imperative last sentence ("Calculate the total.", "..., find x.").
# Wh-words without "?" are not enough: a small model describing the problem ("... and how many pages she
# can read tomorrow.") is not asking anything.
_ASK_RE = re.compile(r"(?i)(?:^|[.!?:,;]\s+|\n|\bthen\s+)(?:then\s+|now\s+|please\s+)?(?:calculate|find|"
                     r"determine|compute|work out|figure out|evaluate|express)\b"
                     r"(?:[^.!?]|\b(?:Mr|Mrs|Ms|Dr|St|Jr|vs)\.|\d\.\d)*[.!]?\s*$"
                     # or a last sentence that starts with a question word and lost its "?"
                     r"|(?:^|[.!?]\s+)(?:if\b(?:[^.!?]|\d\.\d)*,\s*)?(?:how|what|which|who|when|where)\b"
                     r"(?:[^.!?]|\d\.\d)*\.?\s*$")
_NUMBER_WORDS = r"\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|hundred|dozen|half|twice)\b"


def normalize(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def _cut_at_question(text: str) -> str:
    """A GSM8K question ends at its last "?" (what follows is a note), or at an imperative last sentence."""
    if "?" in text:
        end = text.rfind("?") + 1
        rest = text[end:].strip()
        # "... how much does he pay? Round to the nearest cent." / "(There are 128 ounces to a gallon.)" /
        # "There are 1,000 ml in 1 liter." are still the question; a note about the rewrite is cut before this
        if rest and re.match(r"(?i)\(?(?:round|express|give|assume|answer in|write your answer|there (?:are|is)|"
                             r"use|hint|note that|\(?24)\b[^?]*[.!)]?$", rest):
            return text
        if rest.startswith("(") and rest.endswith(")") and not re.search(
                r"(?i)version|rewrit|rephras|reword|chang|original|unchanged|same as|kept|note", rest):
            return text
        return text[:end]
    if _ASK_RE.search(text):
        return text
    raise Reject("no question asked")


def clean_question(text: str, seed: Record, example_new: str, need_question_mark: bool = True) -> str:
    """The new question in a model's output, or Reject(reason). The reply's wrapping (preamble, labels,
    quotes, fences, JSON, closing notes) is taken off by augmath.augment.replies; what is left must be one
    clean, self-contained question, else the reply is dropped with the reason."""
    if not text.strip():
        raise Reject("empty output")
    if several_questions(text):
        raise Reject("several alternative questions in one reply")
    text = collapse(unwrap(text, seed.question))
    if not text:
        raise Reject("no question in the reply")
    if need_question_mark:
        text = _cut_at_question(text)
    if len(text) < (25 if need_question_mark else 12):  # a MATH problem can be "Evaluate $\\log_8 2$."
        raise Reject("too short")
    if len(text) > max(2000, 2 * len(seed.question)):  # a MATH problem with an [asy] figure is long
        raise Reject("too long")
    if seed.source != "math" and not re.search(r"\d|" + _NUMBER_WORDS, text, re.I):
        raise Reject("no numbers")  # (a MATH problem may have none: "Let $f(x) = Ax + B$ ...")
    # a MATH problem's equations ("$x^2+y^2 - 7 = 2y$") are not worked calculations: only its prose is checked
    prose = re.sub(r"\$[^$]*\$|\\\[.*?\\\]|\\\(.*?\\\)", " ", text) if seed.source == "math" else text
    if _WORKED_RE.search(prose):
        raise Reject("contains a worked calculation")
    if normalize(text) == normalize(seed.question):
        raise Reject("copy of the seed")
    if normalize(text) in {normalize(example_new), normalize(EXAMPLE_GSM8K), normalize(EXAMPLE_MATH)}:
        raise Reject("copy of the prompt example")
    left = framing(text, seed.question)
    if left:
        raise Reject(f"reply framing left in the question ({left})")
    return text


_PROBLEM_LABEL_RE = re.compile(r"^(?:\*\*|#+\s*)?\s*(?:new\s+)?problem\s*(?:\*\*)?\s*[:：]\s*(?:\*\*)?\s*", re.I)
_WORD_RE = re.compile(r"[a-z]{4,}")
_NUMS_RE = re.compile(r"\d+(?:\.\d+)?")
_MATH_TOKEN_RE = re.compile(r"\\[A-Za-z]+|[A-Za-z](?![A-Za-z])|\d+")


def numbers_in(text: str) -> Counter:
    """The numbers of a text as values: "$18.00" and "18" are one number, "1,200" is 1200."""
    return Counter(format(Decimal(n).normalize(), "f") for n in _NUMS_RE.findall(text.replace(",", "")))


def require_related(question: str, seed: Record, minimum: float = 0.2) -> None:
    """A rewrite keeps the seed's setting: at least `minimum` of its longer words. Unrelated text (a model
    talking about the task instead of doing it) is rejected. A seed with few words ("Evaluate $\\log_8 2$.")
    is judged by its mathematics too: its LaTeX commands, variables and numbers."""
    seed_words = set(_WORD_RE.findall(seed.question.lower()))
    words = set(_WORD_RE.findall(question.lower()))
    if not seed_words or len(seed_words & words) >= minimum * len(seed_words):
        return
    if len(seed_words) <= 3:
        seed_math = set(_MATH_TOKEN_RE.findall(" ".join(re.findall(r"\$[^$]+\$", seed.question))))
        math = set(_MATH_TOKEN_RE.findall(" ".join(re.findall(r"\$[^$]+\$", question))))
        if seed_math & math:  # text about the task, not a rewrite, has no mathematics of the seed
            return
    raise Reject("unrelated to the seed")


def require_numbers_kept(question: str, original: str) -> None:
    """Every number of `original` still appears (as often) in `question`."""
    if numbers_in(original) - numbers_in(question):
        raise Reject("numbers changed")


def split_math(text: str) -> tuple[str, str]:
    """(problem, solution) from a 'Problem: ... Solution: ...' output (any heading spelling, or JSON), or
    Reject(reason)."""
    value = json_value(text)
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, dict):
        problem, solution, _ = json_fields(value)
        if not problem:
            raise Reject("no question in the reply")
        if not solution:
            raise Reject("no solution")
        problem = json.dumps({"problem": problem})  # unwrap() reads it back as the question
    else:
        m = _SOLUTION_RE.search(text)
        if not m:
            raise Reject("no solution")
        problem, solution = text[:m.start()], text[m.end():].strip()
        problem = _PROBLEM_LABEL_RE.sub("", problem.strip(), count=1)
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
