"""Reply unwrapping: what a generator wrote around its question is taken off, leaving exactly the question.

Issue #27. Instruct models (GPT-4o-, Qwen2.5-Instruct-class) wrap one question in many ways:

    Here's a new problem based on the original:          a preamble line (dropped)
    Sure! ... **New problem:** / ### New Problem         labels: bold, heading, colon (the text after the last)
    > Tom has ...                                        a block quote (its markers dropped)
    ```text ... ```                                      a fence, with or without a language tag (its body)
    {"new_problem": "..."}                               JSON with an obvious key (the value)
    ... This version adds a percentage.                  closing notes (cut)

`unwrap(text)` returns the wrapped text (still to be cut at the question by evolve.clean_question);
`json_fields(text)` reads a JSON reply; `framing(question)` is the check every stored question passes: it
names the scaffolding left in a question (a leading "Here is", a label, heading marks, fences, JSON braces,
a trailing note), or None. A question that fails it is dropped: a polluted question is worse than none.
"""

from __future__ import annotations

import json
import re

# --- JSON -------------------------------------------------------------------------------------------------
_QUESTION_KEYS = re.compile(r"question|problem|rephras|rewrit|query|text|content", re.I)
_SOLUTION_KEYS = re.compile(r"solution|answer|steps|reasoning", re.I)
_FENCE_RE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)(?:\n[ \t]*```|\Z)", re.S)


def json_value(text: str):
    """The JSON value a reply consists of (bare or in one fence), or None when it is not JSON."""
    body = text.strip()
    fence = _FENCE_RE.search(body)
    if fence and (fence.group(1).lower() == "json" or fence.group(2).lstrip()[:1] in "{["):
        body = fence.group(2).strip()
    if body[:1] not in "{[":
        return None
    try:
        return json.loads(body)
    except ValueError:
        start, end = body.find("{"), body.rfind("}")  # a prose line after the object
        try:
            return json.loads(body[start:end + 1]) if 0 <= start < end else None
        except ValueError:
            return None


def json_fields(obj) -> tuple[str | None, str | None, str | None]:
    """(question, solution, label) of one JSON object: the first string under a question-like key (not a
    solution key), the first under a solution-like key, and a strategy/method/type label."""
    if not isinstance(obj, dict):
        return (obj if isinstance(obj, str) else None), None, None
    question = solution = label = None
    for key, value in obj.items():
        if isinstance(value, dict):  # {"variation": {"question": ...}}
            q, s, lab = json_fields(value)
            question, solution, label = question or q, solution or s, label or lab or key
            continue
        if not isinstance(value, (str, int, float)):
            continue
        value = str(value)
        if re.search(r"original|seed|old|given|source", key, re.I):  # the seed echoed back, not the new question
            continue
        if re.search(r"strateg|method|type|label|variation|name|category|title|technique", key, re.I) \
                and not _QUESTION_KEYS.search(key):
            label = label or value
        elif _SOLUTION_KEYS.search(key) and not re.search(r"question|problem", key, re.I):
            solution = solution or value
        elif _QUESTION_KEYS.search(key):
            question = question or value
    return question, solution, label


# --- text wrappers ----------------------------------------------------------------------------------------
# a label: optional heading marks / bold, "Here's the" / "Sure! Here is a", a few adjectives, then
# problem|question|version (with a number or a "(label)"), then a colon, or nothing when the label is a line
# (or a heading) of its own
_ADJ = (r"(?:new|rewritten|rephrased|reworded|revised|modified|evolved|harder|more|challenging|difficult|"
        r"complex|updated|final|variant|alternative|changed|transformed|self-verification|verification|"
        r"math|word|practice|grade|school|competition|resulting|following|your|my|the|a|an|one)")
_LABEL_CORE = (rf"(?:(?:sure|certainly|of course|okay|ok|absolutely|great)[!,.]*\s*)?"
               rf"(?:here(?:'s|’s| is| are)\s+)?(?:(?:{_ADJ}[\s-]+){{0,5}}"
               r"(?:problem|question|version)(?:\s*\d+)?(?:\s*\([^)\n]{0,60}\))?"
               r"|(?:rephrased|rewritten|reworded|revised)(?=\s*(?:\*\*|__)?\s*[:：]))")  # "**Rephrased:** q"
_LABEL_INLINE_RE = re.compile(rf"(?im)^[ \t]*(?:#+[ \t]*)?(?:\*\*|__)?[ \t]*{_LABEL_CORE}[ \t]*(?:\*\*|__)?"
                              r"[ \t]*[:：][ \t]*(?:\*\*|__)?[ \t]*")
_LABEL_BOLD_RE = re.compile(rf"(?im)^[ \t]*(?:#+[ \t]*)?(?:\*\*|__)[ \t]*{_LABEL_CORE}[ \t]*[.:：]?[ \t]*(?:\*\*|__)"
                            r"[ \t]*[:：]?[ \t]*")  # "**Problem.** q", "**New problem** q"
_LABEL_LINE_RE = re.compile(rf"(?im)^[ \t]*(?:#+[ \t]*)?(?:\*\*|__)?[ \t]*{_LABEL_CORE}[ \t]*(?:\*\*|__)?"
                            r"[ \t]*[:：]?[ \t]*(?:\*\*|__)?[ \t]*$\n?")
# a preamble line: a reply's opening words, or a line introducing what follows ("... harder:")
# ("Here are two functions:" / "Below is the graph of ...:" open MATH problems: those need a word about the task)
_PREAMBLE_RE = re.compile(r"(?i)^\s*(?:#+\s*)?(?:\*\*)?\s*(?:sure|certainly|of course|okay|ok\b|absolutely|great|"
                          r"alright|let'?s|let me|i've|i'll|i will|to make|"
                          r"(?:here(?:'s|’s| is| are)|below is|the following|this is)\b.*(?:problem|question|version|"
                          r"variation|rewrit|rephras|harder|challeng|modif))")
# a note about the rewrite (not a MATH problem's own "Note that $\bar{z}$ denotes ..."): it talks of the task
_ABOUT_REWRITE = (r"(?=[^\n]{0,100}\b(?:version|rephras|rewrit|reword|original|chang|kept|keep|modif|variation|"
                  r"new problem|unchanged|harder|easier|complex|masked|unknown|instead|introduc))")
# a closing note or a solution after the question: everything from it on is cut
_STOP_RE = re.compile(r"(?im)^[ \t]*(?:[-*>][ \t]*)?(?:#+[ \t]*)?(?:\*\*|__)?[ \t]*\(?(?:"
                      r"(?:step-by-step )?solution(?=\s*(?:\*\*)?\s*(?:[:：]|$))|answer(?=\s*(?:\*\*)?\s*[:：=]| is)|"
                      r"final answer|explanation|step\s*1|original problem|notes?\b" + _ABOUT_REWRITE + r"|example|let'?s|to solve|"
                      r"here'?s|here is|this (?:version|problem|new|rephras\w*|rewrit\w*|variation|question|change\w*|"
                      r"modification|adds|introduces|keeps|requires|makes)|in this (?:version|variation|problem)|"
                      r"the (?:new|rephrased|rewritten|modified) (?:problem|question|version)|changes(?: made)?|"
                      r"key changes|what changed|i (?:kept|changed|added|made|replaced|introduced|hope)|would you|"
                      r"let me know|feel free|do you want|hope this|with these changes)\b|"
                      r"^[ \t]*(?:---|\*\*\*|___)|"
                      r"^[ \t]*\*\*[^*\n]{1,60}?[:：]?[ \t]*\*\*[ \t]*[:：]?|"  # "**Why it's harder:** ...": a note
                      r"^[ \t]*[(*_]" + _ABOUT_REWRITE)  # "(Every number is the same as in the original.)"
# the same notes after the question's last sentence, on the question's own line
_TAIL_NOTE_RE = re.compile(r"(?<=[.?!$)])[ \t]+\(?(?:\*\*)?(?:(?:note\b" + _ABOUT_REWRITE + r"|this (?:version|problem|new|rephras\w*|"
                           r"rewrit\w*|variation|question|adds|introduces|keeps|requires|makes)|in this version|"
                           r"final answer)\b|answer\s*[:：]).*$", re.I | re.S)
_BOXED_TAIL_RE = re.compile(r"(?is)(?:^|(?<=[.?!$)\s]))\s*(?:\*\*)?\s*(?:the\s+)?(?:final\s+)?answer(?: is)?"
                            r"\s*(?:\*\*)?\s*[:：]?\s*(?:\*\*)?\s*\$*\\boxed\{.*$")


def _drop_quote_marks(text: str) -> str:
    lines = text.split("\n")
    quoted = [ln for ln in lines if ln.lstrip().startswith(">")]
    if not quoted:
        return text
    return "\n".join(re.sub(r"^\s*>\s?", "", ln) for ln in lines)


def _fence_body(text: str) -> str:
    """A fenced block holds the question when the reply has one: its body, else the text."""
    fences = [m for m in _FENCE_RE.finditer(text) if m.group(2).strip()]
    if not fences:
        return text
    return fences[0].group(2)


def _in_seed(fragment: str, seed: str) -> bool:
    """Text the seed itself holds ("Note: When entering a square root ...", "Below is a portion of the graph")
    is part of the problem, not framing."""
    fragment = " ".join(fragment.split()).strip(" .?!(").lower()
    return bool(fragment) and fragment in " ".join(seed.split()).lower()


def unwrap(text: str, seed: str = "") -> str:
    """A reply with its wrapping taken off: JSON value, fence, quote marks, preamble and labels, closing
    notes. Newlines are kept (the caller collapses them); the question is not yet cut at its end."""
    text = text.replace("\r", "").strip()
    value = json_value(text)
    if value is not None:
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        question = json_fields(value)[0]
        return question.strip() if question else ""
    text = _drop_quote_marks(_fence_body(text)).strip()
    # the text after the last label ("New problem:", "**Rewritten question**", "### New Problem")
    labels = [m for r in (_LABEL_INLINE_RE, _LABEL_LINE_RE, _LABEL_BOLD_RE) for m in r.finditer(text)]
    if labels:
        text = text[max(m.end() for m in labels):]
    text = text.strip()
    # preamble lines before the question ("Here's a harder version:", "Sure!", "Let's make it harder:")
    while True:
        first, _, rest = text.partition("\n")
        introduces = re.search(r"[:：]\s*(?:\*\*)?\s*$", first) and "$" not in first and re.search(
            r"(?i)problem|question|version|variation|rewrit|rephras|harder|challeng", first)
        if rest.strip() and (_PREAMBLE_RE.match(first) or introduces) and "?" not in first \
                and not _in_seed(first, seed):
            text = rest.strip()
            continue
        break
    # a lone list item ("1. Tom has ...", "- Tom has ..."): several of them were refused before unwrapping
    text = re.sub(r"^(?:1[.)]|[-*•])[ \t]+(?=\S)", "", text)
    # a "Sure! Here is the new problem: ..." opening on the question's own line
    text = re.sub(r"(?i)^(?:sure|certainly|of course|okay|absolutely)[!,.]*\s+", "", text)
    stop = _STOP_RE.search(text, 1)
    while stop and (not text[:stop.start()].strip() or _in_seed(text[stop.start():stop.start() + 40], seed)):
        stop = _STOP_RE.search(text, stop.end())
    if stop:
        text = text[:stop.start()]
    for pattern in (_BOXED_TAIL_RE, _TAIL_NOTE_RE):
        tail = pattern.search(text.strip())
        if tail and not _in_seed(tail.group(0)[:40], seed):
            text = text.strip()[:tail.start()]
    return text.strip()


# alternatives offered side by side ("**Option 1:** ... **Option 2:** ...", "1. ...?\n2. ...?"): which one is
# "the" question is not for the parser to guess, so such a reply is dropped
_ALTERNATIVE_RE = re.compile(r"(?im)^[ \t]*(?:#+[ \t]*)?(?:[-*][ \t]+)?(?:\*\*)?[ \t]*(?:(?:option|version|variant|"
                             r"alternative|problem|question)[ \t]*[1-9]|[1-9][.)])")


def several_questions(text: str) -> bool:
    """A reply offering two or more alternative questions (numbered, or "Option 1"/"Problem 2" items)."""
    text = text.replace("\r", "")
    starts = [m.start() for m in _ALTERNATIVE_RE.finditer(text)]
    if len(starts) < 2:
        return False
    items = [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]
    asking = [i for i in items if "?" in i or re.search(r"(?i)\b(?:find|compute|calculate|determine|evaluate)\b", i)]
    return len(asking) >= 2


def collapse(text: str) -> str:
    """One line, single spaces; quotes and emphasis marks around the whole question dropped."""
    text = re.sub(r"\s+", " ", text).strip()
    for _ in range(3):
        text = re.sub(r'^(?:\*\*|__|["“”`]|\*(?!\*))(.*?)(?:\*\*|__|["“”`]|(?<!\*)\*)$', r"\1", text).strip()
    return text


# --- the check every stored question passes ---------------------------------------------------------------
_FRAMING = [
    ("a leading preamble", re.compile(r"(?i)^(?:sure\b|certainly\b|of course\b|okay\b|absolutely\b|let'?s\b|"
                                      r"(?:here(?:'s|’s| is| are)|below is)\b[^.:]{0,60}(?:problem|question|"
                                      r"version|variation|rewrit|rephras))")),
    ("a label", re.compile(r"(?i)^(?:\*\*)?\s*(?:new|rewritten|rephrased|revised|modified|evolved|original)?\s*"
                           r"(?:problem|question)\s*\d*\s*(?:\*\*)?\s*[:：]")),
    ("a label", re.compile(r"(?i)^(?:new|rewritten|rephrased|revised|modified|evolved)\s+(?:problem|question)\b")),
    ("heading marks", re.compile(r"(?m)^\s*#{1,6}\s")),
    ("a list number", re.compile(r"^\s*(?:[1-9][.)]|[-*•])\s")),
    ("bold marks", re.compile(r"\*\*[A-Za-z][^*\n]{0,80}\*\*|^\*\*|\*\*$")),
    ("a code fence", re.compile(r"```")),
    ("JSON around the question", re.compile(r'^\s*[\[{]\s*"|"\s*[}\]]\s*$|"\w+"\s*:\s*"')),
    ("a block quote mark", re.compile(r"^\s*>")),
    ("a trailing note", re.compile(r"(?i)(?:^|[.?!]\s+)\(?(?:note\b" + _ABOUT_REWRITE + r"|this (?:version|problem|new|rephrased|"
                                   r"rewritten|variation|question) (?:adds|introduces|keeps|requires|makes|is|has|"
                                   r"now|changes|uses|includes)|in this version)")),
    ("a trailing note", re.compile(r"(?i)[(*_][^()]*\b(?:original|rephras\w*|rewrit\w*|reworded|unchanged|"
                                   r"this version)\b[^()]*[)*_]?\s*$")),
    ("an answer", re.compile(r"(?i)\\boxed\{|final answer\s*(?:is|[:：])|(?:^|\s)(?:answer|solution)\s*[:：]")),
    ("prompt scaffolding", re.compile(r"(?i)original problem\s*:|##\s*end\d*|question\s*\d\s*:|solution\s*\d\s*:")),
]


def framing(question: str, seed: str = "") -> str | None:
    """What of a reply's framing is left in a question (to drop it), or None for a clean question. What the
    seed question itself holds (a MATH problem's own "Note: ...", "Below is the graph ...") is not framing."""
    for what, pattern in _FRAMING:
        for m in pattern.finditer(question):
            if not _in_seed(question[m.start():m.end() + 30][:max(len(m.group(0)), 12)], seed):
                return what
    return None
