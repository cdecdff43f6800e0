"""Sentence-aligned token similarity: how much of one problem's wording another problem keeps.

The decontaminator's `fuzzy` stage scores a question against its nearest evaluation items with this. A test
item retold for training keeps most of its tokens in order within each sentence, even when its numbers,
names, some words and the order of its sentences change; another problem on the same topic does not. So:

- tokens: lower-cased words; every number is `NUM`; a capitalised word after a lower-case word, digit or
  comma (a name in running text: "gave Chris 3") is `NAME`, wherever it occurs in the text; math symbols
  (`+ - ^ ( ) = \\ { }`...) are kept, because for MATH they are the problem ("$3 \\times (7-5) - 5$" and
  "$(7+5)^2-(7-5)^2$" differ only there); prose punctuation and Asymptote code are dropped.
- alignment: each sentence of the question is placed where its best-matching sentence of the item is, so a
  reordered retelling lines up again; then difflib's ratio over the whole token lists, 2M / (|a| + |b|).
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from augmath.decontam.ngrams import ASY

SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z$\\])")
NAME = re.compile(r"(?<=[a-z0-9,;:] )[A-Z][a-z]+\b")
TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[A-Za-z]+|[^\sA-Za-z\d.,?!;:'\"$]")


def tokens(text: str) -> list[str]:
    """The similarity's tokens: words lower-cased, numbers -> NUM (a run of them is one), names -> NAME."""
    text = ASY.sub(" ", text)
    names = set(NAME.findall(text)) - {"NAME"}
    if names:  # a name seen in running text is a name at the start of a sentence too ("Juan ran ...")
        text = re.sub(r"\b(?:" + "|".join(map(re.escape, sorted(names))) + r")\b", "NAME", text)
    out: list[str] = []
    for tok in TOKEN.findall(text):
        tok = "NUM" if tok[0].isdigit() else tok if tok == "NAME" else tok.lower()
        if not (tok == "NUM" and out and out[-1] == "NUM"):
            out.append(tok)
    return out


def sentence_tokens(text: str) -> list[list[str]]:
    return [t for t in map(tokens, SENTENCE.split(text.strip())) if t]


def _ratio(a: list[str], b: list[str]) -> float:
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def aligned_similarity(query: list[list[str]], item: list[list[str]], floor: float = 0.0) -> float:
    """Similarity in [0, 1] of two texts given as sentence_tokens; 0.0 early when it cannot reach `floor`.

    The bag-of-tokens bound (difflib's quick_ratio over the whole texts) does not depend on sentence order, so
    it bounds the aligned ratio and prunes most candidates before any alignment.
    """
    flat_q = [t for s in query for t in s]
    flat_i = [t for s in item for t in s]
    if not flat_q or not flat_i:
        return 0.0
    whole = SequenceMatcher(None, flat_q, flat_i, autojunk=False)
    if whole.real_quick_ratio() < floor or whole.quick_ratio() < floor:
        return 0.0
    # Each question sentence goes where its best match in the item is (ties keep the question's order).
    place = sorted(range(len(query)),
                   key=lambda k: (max(range(len(item)), key=lambda m: _ratio(query[k], item[m])), k))
    return _ratio([t for k in place for t in query[k]], flat_i)
