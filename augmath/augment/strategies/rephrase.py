"""`rephrase` (MetaMath): the same problem in other words, kept when sampled paths re-solve it.

`rephrase` (MetaMath): the same problem in other words. The seed's gold still holds, but only if the
rephrasing kept the meaning, so a rephrased question is kept only when sampled paths re-solve it to the
seed's gold (gold_method "seed-gold"); the matching paths become its responses."""

from __future__ import annotations

from augmath.sources import Record
from augmath.augment.strategies import Query, Strategy
from augmath.augment.strategies.evolve import SYSTEM, clean_question, require_numbers_kept, require_related

TEMPLATE = """Rephrase the following math problem. Keep every number, every condition and what is asked exactly the same, so that the answer does not change. Change only the wording. Write only the rephrased problem.

Problem: {example_seed}
Rephrased problem: {example_new}

Problem: {seed}
Rephrased problem:"""

EXAMPLE = {
    "gsm8k": ("Tom has 5 apples. He buys 3 bags with 4 apples in each bag. How many apples does Tom have now?",
              "Tom starts out with 5 apples and then purchases 3 bags, each holding 4 apples. What is the total "
              "number of apples Tom has at the end?"),
    "math": ("What is the sum of the solutions of $x^2 - 5x + 6 = 0$?",
             "Find the sum of all values of $x$ that satisfy $x^2 - 5x + 6 = 0$."),
}


class Rephrase(Strategy):
    name = "rephrase"
    description = "rephrase the question; kept only when re-solved to the seed's gold (MetaMath)"
    template = "\n".join([SYSTEM, TEMPLATE, *EXAMPLE["gsm8k"], *EXAMPLE["math"]])

    def messages(self, seed: Record, round_index: int) -> list[dict]:
        example_seed, example_new = EXAMPLE[seed.source]
        user = TEMPLATE.format(example_seed=example_seed, example_new=example_new, seed=seed.question.strip())
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]

    def parse(self, seed: Record, text: str, round_index: int, model: str, sampling: dict) -> Query:
        example_new = EXAMPLE[seed.source][1]
        question = clean_question(text, seed, example_new, need_question_mark=seed.source == "gsm8k")
        require_numbers_kept(question, seed.question)  # a rephrasing keeps every number ...
        require_related(question, seed)  # ... and the setting
        return Query(seed, self.name, round_index, question, seed.answer, "seed-gold", model, self.prompt_hash,
                     sampling)


STRATEGY = Rephrase()
