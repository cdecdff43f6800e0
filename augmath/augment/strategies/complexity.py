"""`complexity`: increase the complexity of the problem (MuggleMath strategy 5).

Reported by MuggleMath as the strongest single strategy. LLM rewrite; majority-vote answer."""

from augmath.augment.strategies.evolve import EvolveStrategy, Example

STRATEGY = EvolveStrategy(
    name="complexity",
    instruction="Increase the complexity of the problem: add steps so that it takes more reasoning to solve.",
    example=Example(
        gsm8k="Tom has 5 apples. He buys 3 bags with 4 apples in each bag and eats 2 apples a day for 4 days. "
              "Then his sister gives him twice as many apples as he has left. How many apples does Tom have now?",
        math="What is the sum of the squares of the solutions of $x^2 - 5x + 6 = 0$, plus the product of the "
             "solutions?",
        math_solution="The equation factors as $(x-2)(x-3) = 0$, so the solutions are $2$ and $3$. The sum of "
                      "their squares is $4 + 9 = 13$ and their product is $6$, so the total is "
                      "$13 + 6 = \\boxed{19}$.",
    ),
)
