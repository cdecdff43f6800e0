"""`conditional`: include a conditional statement (MuggleMath strategy 4). LLM rewrite; majority-vote answer."""

from augmath.augment.strategies.evolve import EvolveStrategy, Example

STRATEGY = EvolveStrategy(
    name="conditional",
    instruction="Add a conditional statement (an 'if ... then ...' rule) to the problem that changes how it "
                "is solved.",
    example=Example(
        gsm8k="Tom has 5 apples. He buys 3 bags with 4 apples in each bag. If he then has more than 15 apples, "
              "he gives 2 apples to each of his 3 friends; otherwise he keeps them all. How many apples does "
              "Tom have now?",
        math="Let $a$ be the larger solution of $x^2 - 5x + 6 = 0$. If $a$ is odd, let $b = 2a$; otherwise let "
             "$b = a + 1$. What is $b$?",
        math_solution="The equation factors as $(x-2)(x-3) = 0$, so the larger solution is $a = 3$. Since $3$ is "
                      "odd, $b = 2 \\cdot 3 = \\boxed{6}$.",
    ),
)
