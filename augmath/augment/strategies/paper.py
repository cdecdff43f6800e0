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
import json
import re

from augmath.augment.strategies import EVOLUTION, Query, Reject
from augmath.augment.replies import json_fields, json_value
from augmath.augment.strategies.evolve import clean_question, normalize, require_related, split_math
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
_END_RE = re.compile(r"\s*##\s*end\s*\d*\s*$", re.I)
# MATH: "Question1:", "**Question 1:**", "Question 1 (Change specific numbers):", "### Question 1"
_MATH_ITEM_RE = re.compile(r"(?im)^[ \t]*(?:#+[ \t]*)?(?:\*\*)?[ \t]*Question[ \t]*([1-5])[ \t]*"
                           r"(?:\(([^)\n]{1,80})\))?[ \t]*(?:\*\*)?[ \t]*(?:[:：]|$)[ \t]*(?:\*\*)?")
_HEADING_RE = re.compile(r"^[ \t]*(?:#+[ \t]*)?(?:[-*][ \t]+)?(?:\*\*)?[ \t]*(?:\d[.)])?[ \t]*([A-Za-z][^:\n*]{0,80}?)"
                         r"[ \t]*(?:\*\*)?[ \t]*[:：]?[ \t]*(?:\*\*)?[ \t]*$")
_HEADING_TAIL_RE = re.compile(r"\n[ \t]*(?:#+[ \t]*)?(?:[-*][ \t]+)?(?:\*\*)?[ \t]*\d[.)][^\n]*\s*$")
# an item header's opening: heading marks, a bullet, bold, "Question"/"Variation", the item's number
_OPEN_RE = re.compile(r"^[ \t]*(?P<heading>#{1,6}[ \t]*)?(?P<bullet>[-*+][ \t]+)?(?P<bold>\*\*|__)?[ \t]*"
                      r"(?:(?P<word>question|variation|method|type|evolution)[ \t]*(?P<wnum>[1-5])(?![\d.,]\d)"
                      r"[ \t]*[.)]?|(?P<num>[1-5])[.):](?!\d))?[ \t]*", re.I)


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
        # an item label left in front of the question ("Change specific numbers - Natalia ...")
        lead = re.match(r"^([A-Za-z][A-Za-z ]{2,60}?)\s*(?:[-–—:→>|]|=>|\(|\*\*)", question)
        if lead and label_strategy(lead.group(1)) and not re.search(re.escape(lead.group(1)), seed.question, re.I):
            raise Reject("reply framing left in the question (an item label)")
        # the example's seed sentence in a question is the example echoed back, unless the seed is the example
        if EXAMPLE_SEED.lower() in question.lower() and normalize(EXAMPLE_SEED) not in normalize(seed.question):
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


def _assign(found: list[tuple[int | None, str | None, str]]) -> dict[str, str]:
    """(item number, label, text) in reply order -> {strategy: text}. The label decides the strategy, else
    the number, else the position; of two items for one strategy the first is kept."""
    items: dict[str, str] = {}
    for position, (number, label, body) in enumerate(found):
        name = label_strategy(label) or (EVOLUTION[number - 1] if number else
                                          EVOLUTION[position] if position < len(EVOLUTION) else None)
        if name:
            items.setdefault(name, _END_RE.sub("", body).strip())
    return items


def _header(line: str, source: str) -> tuple[int | None, str | None, str] | None:
    """(number, label, text after the header) when `line` opens an item, else None.
    "1. **Change specific numbers**: q", "### 1. Change Specific Numbers", "- **Label**: q",
    "Question 1 (Label): q", "**Introduce fractions or percentages**" on a line of its own."""
    m = _OPEN_RE.match(line)
    number = int(m.group("num") or m.group("wnum") or 0) or None
    marked = bool(m.group("heading") or m.group("bold") or m.group("bullet"))
    if m.group("word") and number is None:
        return None
    rest = line[m.end():]
    label = None
    paren = re.match(r"\(([^)\n]{1,80})\)[ \t]*(?:\*\*|__)?[ \t]*[:：]?[ \t]*(?:\*\*|__)?[ \t]*", rest)
    bold = re.match(r"(?:\*\*|__)[ \t]*([^*\n]{1,80}?)[ \t]*(?:[:：][ \t]*)?(?:\*\*|__)[ \t]*[:：]?[ \t]*", rest)
    if m.group("bold"):  # "**Label**: q", "**1. Label:** q"
        bold = re.match(r"([^*\n]{1,80}?)[ \t]*(?:[:：][ \t]*)?(?:\*\*|__)[ \t]*[:：]?[ \t]*", rest)
    colon = re.match(r"([A-Za-z][^:：\n*?]{0,80}?)[ \t]*(?:[:：]|[ \t][-–—])[ \t]*(?:\*\*)?[ \t]*", rest)
    alone = re.match(r"([A-Za-z][^:：\n*?]{0,80}?)[ \t]*(?:\*\*)?[ \t]*$", rest)
    if paren:
        label, rest = paren.group(1), rest[paren.end():]
    elif bold:
        label, rest = bold.group(1), rest[bold.end():]
    elif colon and (label_strategy(colon.group(1)) or (marked and number is None)):
        label, rest = colon.group(1), rest[colon.end():]
    elif alone and (label_strategy(alone.group(1)) or m.group("heading")) and (number or marked):
        label, rest = alone.group(1), ""
    known = label_strategy(label)
    if source == "math" and not (known or (number and (m.group("heading") or m.group("bold")))):
        return None  # a solution's own numbered steps are not items
    if number is None and not (known and (marked or colon or alone)):
        return None
    if number is None and m.group("heading") is None and not label:
        return None
    return number, label, rest


def _json_items(value) -> list[tuple[int | None, str | None, str]] | None:
    """The items of a JSON reply: a list of objects, or an object holding such a list or keyed by label."""
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, list)]
        if lists:
            value = lists[0]
        elif all(label_strategy(k) for k in value):
            value = [{"label": k, **(v if isinstance(v, dict) else {"question": v})} for k, v in value.items()]
    if not isinstance(value, list):
        return None
    found = []
    for element in value:
        question, solution, label = json_fields(element)
        if question:
            body = {"question": question, **({"solution": solution} if solution else {})}
            found.append((None, label, json.dumps(body)))
    return found


def split_items(text: str, source: str = "gsm8k") -> dict[str, str]:
    """The items of a reply: {strategy: item text}. Text before the first item (a preamble, the seed echoed
    back) is ignored.

    GSM8K: "1. **Label**: question" (the example's layout), also "1. Label: question", "1) question",
    "### 1. Label" / "**Label**" headings with the question below, "- **Label**: question",
    "Question 1 (Label): question", a JSON list. MATH: "N. Label:" then "QuestionN: ..." and
    "SolutionN: ... ##endN"; items are found by their QuestionN markers (else by labelled headings), not by
    "N." lines, because solutions often number their own steps."""
    text = text.replace("\r", "")
    value = json_value(text)
    if value is not None:
        return _assign(_json_items(value) or [])
    found: list[tuple[int | None, str | None, str]] = []
    marks = list(_MATH_ITEM_RE.finditer(text)) if source == "math" else []
    if marks:
        for i, m in enumerate(marks):
            end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
            body = text[m.end():end]
            ended = re.search(r"##\s*end\s*\d*", body, re.I)
            body = body[:ended.start()] if ended else _HEADING_TAIL_RE.sub("", body)
            heading = text[:m.start()].rstrip().rsplit("\n", 1)[-1]
            label = m.group(2) or (_HEADING_RE.match(heading).group(1) if _HEADING_RE.match(heading) else None)
            found.append((int(m.group(1)), label, body))
        return _assign(found)
    current: list | None = None
    for line in text.split("\n"):
        header = _header(line, source)
        if header is not None:
            current = [header[0], header[1], header[2]]
            found.append(current)
        elif current is not None:
            current[2] += "\n" + line
    return _assign([tuple(f) for f in found])


PAPER = PaperPrompt()
