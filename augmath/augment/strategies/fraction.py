"""`fraction`: introduce fractions or percentages (MuggleMath strategy 2).

LLM rewrite; no gold, so the answer is the majority over sampled paths (GSM8K) or over the generator's
solution plus paths (MATH)."""

from augmath.augment.strategies.evolve import EvolveStrategy, Example

STRATEGY = EvolveStrategy(
    name="fraction",
    instruction="Introduce fractions or percentages into the problem, so that solving it needs them.",
    example=Example(
        gsm8k="Tom has 12 apples. He buys 3 bags with 8 apples in each bag, then gives away 1/4 of all his "
              "apples. How many apples does Tom have now?",
        math="What is $\\frac{2}{3}$ of the sum of the solutions of $x^2 - 5x + 6 = 0$?",
        math_solution="The equation factors as $(x-2)(x-3) = 0$, so the solutions are $2$ and $3$, with sum "
                      "$5$. Two thirds of it is $\\frac{2}{3} \\cdot 5 = \\boxed{\\frac{10}{3}}$.",
    ),
)
