"""`selfverify` (MetaMath's Self-Verification): the answer stated, a number of the question asked for.

`selfverify` (MetaMath's Self-Verification): a number of the question becomes the unknown x, the answer
is stated as a fact, and x is asked for. An LLM turns "question with x + answer" into one declarative
problem (the query); the masked number is the gold, so sampled paths must reach it ("masked-number").
The parser rejects rewrites that lost x or the answer, or that give the masked number away."""

from __future__ import annotations

import re

from augmath.augment import calc
from augmath.sources import Record
from augmath.augment.strategies import Query, Reject, Strategy
from augmath.augment.strategies.evolve import (SYSTEM, clean_question, numbers_in, require_numbers_kept,
                                                require_related)
from augmath.augment.strategies.reverse import mask_gsm8k, mask_math

TEMPLATE = """The problem below has one number replaced by the unknown {var}, and its answer is known. Rewrite it as a single problem that states the answer as a fact and asks for the value of {var}. Keep all other numbers. Write only the rewritten problem.

Problem: {example_masked}
Answer: {example_answer}
Rewritten problem: {example_new}

Problem: {masked}
Answer: {answer}
Rewritten problem:"""

EXAMPLE = {
    "gsm8k": ("Tom has x apples. He buys 3 bags with 4 apples in each bag. How many apples does Tom have now?",
              "17", "Tom has x apples. He buys 3 bags with 4 apples in each bag, and now he has 17 apples. "
              "What is the value of x?"),
    "math": ("What is the sum of the solutions of $x^2 - Xx + 6 = 0$?", "5",
             "The solutions of $x^2 - Xx + 6 = 0$ add up to $5$. What is the value of $X$?"),
}


class SelfVerify(Strategy):
    name = "selfverify"
    description = "state the answer, ask for one masked number of the question (MetaMath self-verification)"
    template = "\n".join([SYSTEM, TEMPLATE, *EXAMPLE["gsm8k"], *EXAMPLE["math"]])

    def _masked(self, seed: Record, round_index: int) -> tuple[str, str, str]:
        if seed.source == "math":
            masked, value = mask_math(seed, round_index)
            return masked, value, "X"
        masked, value, _ = mask_gsm8k(seed, round_index)
        return masked, calc.format_number(value), "x"

    def messages(self, seed: Record, round_index: int) -> list[dict]:
        masked, _, var = self._masked(seed, round_index)
        ex_masked, ex_answer, ex_new = EXAMPLE[seed.source]
        user = TEMPLATE.format(var=var, example_masked=ex_masked, example_answer=ex_answer, example_new=ex_new,
                               masked=masked.strip(), answer=seed.answer)
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]

    def parse(self, seed: Record, text: str, round_index: int, model: str, sampling: dict) -> Query:
        masked, value, var = self._masked(seed, round_index)
        question = clean_question(text, seed, EXAMPLE[seed.source][2], need_question_mark=seed.source == "gsm8k")
        has_var = rf"(?<![A-Za-z]){var}(?![A-Za-z])"
        if not re.search(has_var, question):
            raise Reject("unknown variable missing")
        asked = re.split(r"(?<=[.!?])\s+", question.rstrip("?"))[-1]
        if not re.search(has_var, asked):
            raise Reject("does not ask for the unknown")
        if seed.source == "gsm8k" and seed.answer not in question.replace(",", ""):
            raise Reject("answer not stated")
        require_numbers_kept(question, masked)  # "Keep all other numbers"
        require_related(question, seed)
        # the masked number may appear where the stated answer holds it ("... and now he has 24", x = 24)
        key = next(iter(numbers_in(value)), value)
        stated = numbers_in(seed.answer or "")[key] if seed.source == "gsm8k" else 0
        if numbers_in(question)[key] > numbers_in(masked)[key] + stated:
            raise Reject("masked number given away")
        return Query(seed, self.name, round_index, question, value, "masked-number", model, self.prompt_hash,
                     sampling)


STRATEGY = SelfVerify()
