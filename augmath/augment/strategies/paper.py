"""The `paper` prompt style: one request per seed asks for MuggleMath's five evolutions at once.

MuggleMath (arXiv 2310.05506, appendix) shows the generator one worked question rewritten five ways and then
the seed; the reply holds five labelled new questions. For MATH seeds the prompt shows a question-solution
pair, the five variation types worked out (three of them in full), then the seed *with its solution*, and
asks for five variations "specifically tailored to the given problem", each with a full solution.

Source of the text: the paper's appendix as transcribed in argilla-io/distilabel
(src/distilabel/steps/tasks/mugglemath.py, `MuggleMathAugmentQuery`, Apache-2.0); the PDF itself was not
reachable from here. What is verbatim and what is ours (docs/augment.md repeats this):
- verbatim: both instruction texts, the James example and its rewrites, the MATH worked solutions, the
  "XX" placeholders of MATH variations 4 and 5, and the MATH request line ("Question0: ... Solution0: ...
  Please response with the given example format(including Questions and solutions)"), typos included;
- ours: sending instruction + seed as ONE user message (distilabel splits them into system + user; the
  appendix shows one prompt), and the whole parser below (the paper's extraction code is not released).

The parser maps each item to a strategy by its label ("Include a conditional statement" -> conditional);
an item without a recognisable label takes the strategy of its position (the prompt lists the five types in
EVOLUTION order). Each item then goes through the same checks as the per-strategy style (evolve.py): a
self-contained question with a number, related to the seed, not a copy of the seed or of the example.
"""

from __future__ import annotations

import hashlib
import re

from augmath.augment.strategies import EVOLUTION, Query, Reject
from augmath.augment.strategies.evolve import clean_question, require_related, split_math
from augmath.sources import Record

GSM8K_PROMPT = """I want you to act as a math teacher. I will provide a grade school math question and you will help to create a more challenging math questions by given ways. Given the question: "James writes a 3-page letter to 2 different friends twice a week. How many pages does he write a year?", you will modify it by following ideas:

1. **Change specific numbers**: James writes a 2-page letter to 2 different friends 3 times a week. How many pages does he write in 4 years?
2. **Introduce fractions or percentages**: James writes a 3-page letter to 2 different friends twice a week. Each week, he adds 50% more pages to each letter. How many pages does he write in a month?
3. **Combine multiple concepts**: James writes a 3-page letter to 2 different friends twice a week. He uses both sides of the paper and each side can hold 250 words. If James writes 100 words per minute, how long does it take for him to write all the letters in a week?
4. **Include a conditional statement**: James writes a 3-page letter to 2 different friends twice a week. If it's holiday, he writes an additional 5-page letter to each friend. Considering there are 10 holidays in a year, how many pages does he write in a year?
5. **Increase the complexity of the problem**: James writes a 3-page letter to 2 different friends twice a week. In addition, he writes a 5-page letter to 3 other friends once a week. How many pages does he write in a month, assuming there are 4 weeks in a month?

Now you are given the question:
"""

MATH_PROMPT = r"""I want you to act as a math teacher. You should think of some ways to help students do variation training for challenging competition mathematics problems. For example, for a question-solution pair:

Question0: James writes a 3-page letter to 2 different friends twice a week. How many pages does he write in a year?

Solution0: He writes each friend $3 \times 2 = 6$ pages a week. So he writes $6 \times 2 = 12$ pages every week. That means he writes $12 \times 52 = \boxed{624}$ pages a year ##end0

We can propose 5 types of variation exercises, and response with:

1. Change specific numbers:
Question1: James writes a 5-page letter to 3 different friends 4 times a week. How many pages does he write in 3 years?
Solution1: To calculate the total number of pages James writes in 3 years, let's first figure out how many pages he writes each week and then multiply that by the number of weeks in 3 years. He writes each friend a 5-page letter, so for 3 friends, that's $5 \times 3 = 15$ pages per writing session. He writes 4 times a week, so the weekly total is $15 \times 4 = 60$ pages. There are 52 weeks in a year, so in one year, he writes $60 \times 52 = 3120$ pages. Finally, over the course of 3 years, he writes $3120 \times 3 = \boxed{9360}$ pages. ##end1

2. Introduce fractions or percentages:
Question2: James writes a 3-page letter to 2 different friends twice a week. Each week, he adds 100% more pages to each letter. How many pages does he write in a month?
Solution2: Let's take this step by step: In the first week, James writes a 3-page letter to 2 friends twice a week, which is $3 \times 2 \times 2 = 12$ pages in total for the first week. In the second week, he writes 100% more pages, thus doubling the number of pages in each letter. So he writes $6 \times 2 \times 2 = 24$ pages in total for the second week. In the third week, he again writes double the previous week's pages, so $12 \times 2 \times 2 = 48$ pages in total for the third week. In the fourth week, the number of pages doubles again, which results in $24 \times 2 \times 2 = 96$ pages in total for the fourth week. Now, we'll add up the pages from all four weeks to find out how many pages he writes in a month: $12 + 24 + 48 + 96 = \boxed{180}$ pages. Therefore, in a month (assuming a 4-week month), James writes 180 pages. ##end2

3. Combine multiple concepts:
Question3: James writes a 3-page letter to 2 different friends twice a week. He uses both sides of the paper, and each side can hold 250 words. If James writes at a speed of 100 words per minute, how long does it take him to write all the letters in a week?
Solution3: To find out how long it takes James to write all the letters in a week, we first calculate how many words he writes in total. Each letter is 3 pages long, and he writes to 2 friends, which is $3 \times 2 = 6$ pages per writing session. Since he writes twice a week, the total number of pages per week is $6 \times 2 = 12$ pages. Considering each page has two sides and each side holds 250 words, the number of words on one page is $250 \times 2 = 500$ words. Therefore, the total number of words James writes in a week is $500 \times 12 = 6000$ words. Given James writes at a speed of 100 words per minute, the time it takes him to write all the letters in a week is calculated by dividing the total number of words by his writing speed: $6000 \div 100 = 60$ minutes. So, James takes 60 minutes to write all the letters in a week. ##end3

4. Include a conditional statement:
Question4: XX
Solution4: XX ##end4

5. Increase the complexity of the problem:
Question5: XX
Solution5: XX ##end5

Now, find five suitable variation training methods for the new problem. Be careful not to let existing methods limit your thinking. Instead, propose variation training methods that are specifically tailored to the given problem:
"""

MATH_REQUEST = "Question0: {question}\nSolution0: {solution}\nPlease response with the given example format(including Questions and solutions)"

# The example's own rewrites, per strategy: an item that copies one of them is the example echoed back.
EXAMPLE_REWRITES = {name: line.split("**: ", 1)[1] for name, line in zip(
    EVOLUTION, [ln for ln in GSM8K_PROMPT.splitlines() if re.match(r"^\d\. \*\*", ln)])}
EXAMPLE_SEED = "James writes a 3-page letter to 2 different friends twice a week."

# label keywords -> strategy (checked in this order: "fractions or percentages" must not read as numbers)
# ("Add the number of pages" names no strategy: "number" alone is too common to decide)
_LABELS = [("fraction", r"fraction|percent"), ("conditional", r"condition"), ("combine", r"combin|concept"),
           ("complexity", r"complex"), ("numbers", r"chang|specific\s+number")]
# "1. **Change specific numbers**: text", "**1. Label:** text", "1) text", "1. Label:\nQuestion1: ..."
_ITEM_RE = re.compile(r"(?m)^[ \t]*(?:[-*][ \t]*)?(?:\*\*)?[ \t]*([1-5])[.)][ \t]*")
_LABEL_RE = re.compile(r"^(?:\*\*)?[ \t]*([A-Za-z][^:\n*]{0,80}?)[ \t]*(?:\*\*)?[ \t]*[:：][ \t]*(?:\*\*)?")
_END_RE = re.compile(r"\s*##\s*end\s*\d*\s*$", re.I)
_MATH_ITEM_RE = re.compile(r"(?im)^[ \t]*(?:\*\*)?[ \t]*Question[ \t]*([1-5])[ \t]*(?:\*\*)?[ \t]*[:：]"
                           r"[ \t]*(?:\*\*)?")
_HEADING_RE = re.compile(r"^[ \t]*(?:#+[ \t]*)?(?:\*\*)?[ \t]*(?:\d[.)])?[ \t]*([A-Za-z][^:\n*]{0,80}?)[ \t]*"
                         r"(?:\*\*)?[ \t]*[:：]?[ \t]*(?:\*\*)?[ \t]*$")
_HEADING_TAIL_RE = re.compile(r"\n[ \t]*(?:#+[ \t]*)?(?:\*\*)?[ \t]*\d[.)][^\n]*\s*$")  # the next item's "2. Label:"


class PaperPrompt:
    """The paper's one-request-for-five prompt; `template` is hashed into every row it makes."""

    name = "paper"
    template = "\n".join([GSM8K_PROMPT, MATH_PROMPT, MATH_REQUEST])

    @property
    def prompt_hash(self) -> str:
        return hashlib.sha256(f"{self.name}\n{self.template}".encode()).hexdigest()[:12]

    def messages(self, seed: Record) -> list[dict]:
        if seed.source == "math":
            request = MATH_REQUEST.format(question=seed.question.strip(), solution=(seed.solution or "").strip())
            return [{"role": "user", "content": MATH_PROMPT + "\n" + request}]
        return [{"role": "user", "content": GSM8K_PROMPT + seed.question.strip()}]

    def parse(self, seed: Record, text: str, round_index: int, model: str, sampling: dict,
              wanted: list[str]) -> dict[str, Query | Reject]:
        """One reply -> {strategy: Query, or Reject(reason)} for every strategy in `wanted`."""
        items = split_items(text, seed.source)
        out: dict[str, Query | Reject] = {}
        for name in wanted:
            body = items.get(name)
            if body is None:
                out[name] = Reject("no item for this evolution in the reply")
                continue
            try:
                out[name] = self._query(seed, name, body, round_index, model, sampling)
            except Reject as e:
                out[name] = e
        return out

    def _query(self, seed: Record, name: str, body: str, round_index: int, model: str, sampling: dict) -> Query:
        if seed.source == "math":
            body = re.sub(r"(?im)^[ \t]*(?:\*\*)?[ \t]*Solution[ \t]*\d[ \t]*(?:\*\*)?[ \t]*[:：]", "Solution:", body,
                          count=1)
            problem, solution = split_math(body)
            question = clean_question(problem, seed, EXAMPLE_REWRITES[name], need_question_mark=False)
        else:
            question = clean_question(body, seed, EXAMPLE_REWRITES[name])
            solution = None
        if EXAMPLE_SEED.lower() in question.lower():
            raise Reject("copy of the prompt example")
        require_related(question, seed)
        return Query(seed, name, round_index, question, None, "majority", model, self.prompt_hash, sampling,
                     solution)


def label_strategy(label: str | None) -> str | None:
    """'Include a conditional statement' -> 'conditional'; None for a label naming none of the five."""
    if not label:
        return None
    for name, pattern in _LABELS:
        if re.search(pattern, label, re.I):
            return name
    return None


def _assign(found: list[tuple[int, str | None, str]]) -> dict[str, str]:
    """(item number, label, text) in reply order -> {strategy: text}. The label decides the strategy, else
    the number; of two items for one strategy the first is kept (the other strategy then has none)."""
    items: dict[str, str] = {}
    for number, label, body in found:
        items.setdefault(label_strategy(label) or EVOLUTION[number - 1], _END_RE.sub("", body).strip())
    return items


def split_items(text: str, source: str = "gsm8k") -> dict[str, str]:
    """The numbered items of a reply: {strategy: item text}. Text before the first item (a preamble, the
    seed echoed back) is ignored.

    GSM8K: "1. **Label**: question" (the example's layout), also "1. Label: question" or "1) question".
    MATH: "N. Label:" then "QuestionN: ..." and "SolutionN: ... ##endN". Items are found by their QuestionN
    markers, not by "N." lines, because solutions often number their own steps."""
    text = text.replace("\r", "")
    found: list[tuple[int, str | None, str]] = []
    if source == "math":
        marks = list(_MATH_ITEM_RE.finditer(text))
        for i, m in enumerate(marks):
            end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
            body = text[m.end():end]
            ended = re.search(r"##\s*end\s*\d*", body, re.I)
            body = body[:ended.start()] if ended else _HEADING_TAIL_RE.sub("", body)
            heading = text[:m.start()].rstrip().rsplit("\n", 1)[-1]
            label = _HEADING_RE.match(heading)
            found.append((int(m.group(1)), label.group(1) if label else None, body))
        return _assign(found)
    starts = list(_ITEM_RE.finditer(text))
    for i, m in enumerate(starts):
        body = text[m.end():starts[i + 1].start() if i + 1 < len(starts) else len(text)]
        label = _LABEL_RE.match(body)
        # "**Label**: text" or "Change specific numbers: text": the text after the label is the item. An
        # unbolded colon that names no strategy is part of the question ("1. Tom has 3 boxes: ...").
        if label and (body.lstrip().startswith("**") or label_strategy(label.group(1))):
            body = body[label.end():]
        else:
            label = None
        found.append((int(m.group(1)), label.group(1) if label else None, body))
    return _assign(found)


PAPER = PaperPrompt()
