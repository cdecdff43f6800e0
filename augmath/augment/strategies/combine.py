"""`combine`: combine multiple concepts (MuggleMath strategy 3). LLM rewrite; majority-vote answer."""

from augmath.augment.strategies.evolve import EvolveStrategy, Example

STRATEGY = EvolveStrategy(
    name="combine",
    instruction="Combine the problem with another math concept (for example money, rates, area, time or "
                "averages), so that solving it needs both.",
    example=Example(
        gsm8k="Tom has 5 apples. He buys 3 bags with 4 apples in each bag. Apples sell for $0.50 each. If Tom "
              "sells all of his apples, how much money does he get?",
        math="A rectangle has side lengths equal to the two solutions of $x^2 - 5x + 6 = 0$. What is the "
             "length of its diagonal?",
        math_solution="The equation factors as $(x-2)(x-3) = 0$, so the sides are $2$ and $3$. By the "
                      "Pythagorean theorem the diagonal is $\\sqrt{2^2 + 3^2} = \\boxed{\\sqrt{13}}$.",
    ),
)
