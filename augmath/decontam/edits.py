"""Light, rule-based edits of benchmark items, for measuring how well decontamination sees through them.

Each edit takes a real problem and returns an edited copy (or None when the edit cannot apply, e.g. a
one-sentence problem cannot be reordered). They imitate what an augmentation run can do to a test item
that slipped into its seeds or that a generator recalled: change the numbers, swap words (synonyms and
names), reorder sentences, or all of that plus reworded question phrases ("rephrased"). No LLM is used, so
"rephrased" is weaker than a model's paraphrase; the embedding stage is what such paraphrases must meet.
"""

from __future__ import annotations

import random
import re

from augmath.decontam.aligned import SENTENCE  # the fuzzy stage's sentence splitter: edits and matching agree

NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w])")

SYNONYMS = {
    "bought": ["purchased"], "buy": ["purchase"], "buys": ["purchases"], "gave": ["handed"],
    "total": ["overall", "combined"], "each": ["every"], "every": ["each"],
    "sold": ["sells"], "makes": ["earns"],
    "store": ["shop"], "shop": ["store"], "car": ["vehicle"], "house": ["home"], "money": ["cash"],
    "week": ["wk"], "friends": ["pals"], "friend": ["pal"], "large": ["big"], "big": ["large"],
    "small": ["little"], "little": ["small"], "children": ["kids"], "kids": ["children"],
    "costs": ["is priced at"], "cost": ["price"], "price": ["cost"], "spend": ["pay out"],
    "number": ["amount"], "amount": ["quantity"], "find": ["determine"], "compute": ["calculate"],
    "calculate": ["compute"], "determine": ["find"], "what": ["which"], "value": ["result"],
    "positive": ["nonnegative"], "integer": ["whole number"], "real": ["actual"], "suppose": ["assume"],
    "if": ["when"], "when": ["if"], "then": ["next"], "also": ["additionally"], "does": ["will"],
    "pictures": ["photos"], "apples": ["pears"], "books": ["novels"], "cookies": ["biscuits"],
    "dollars": ["bucks"], "minutes": ["mins"], "hours": ["hrs"], "people": ["persons"],
    "started": ["began"], "needs": ["requires"], "wants": ["wishes"], "got": ["received"],
}
NAMES = ["Avery", "Bruno", "Chiara", "Dmitri", "Esme", "Farid", "Greta", "Hiro", "Ines", "Jomo",
         "Kaia", "Lars", "Mirela", "Nuno", "Oona", "Pavel", "Quinn", "Rosa", "Sven", "Tamsin"]
NOT_NAMES = {"How", "What", "If", "The", "A", "An", "In", "On", "At", "Each", "Every", "She", "He", "They",
             "It", "Her", "His", "Their", "There", "This", "That", "After", "Before", "When", "Then", "Find",
             "Compute", "Let", "Suppose", "Given", "For", "Of", "Mr", "Mrs", "Ms", "Dr", "I", "We", "You",
             "Express", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
QUESTION_REWORDS = [(r"\bHow many\b", "What number of"), (r"\bHow much\b", "What amount"),
                    (r"\bWhat is\b", "Determine"), (r"\bFind\b", "Work out"), (r"\bCompute\b", "Evaluate"),
                    (r"\bCalculate\b", "Work out")]
LEAD_INS = ["Here is a problem. ", "Solve this: ", "Consider the following. ", "Question: "]


def numbers_changed(text: str, rng: random.Random) -> str | None:
    """Every number becomes a different number of similar size (decimals keep their places)."""
    def repl(m: re.Match) -> str:
        s = m.group(0)
        if "." in s:
            places = len(s.split(".")[1])
            value = float(s)
            new = round(value + rng.choice([-1, 1]) * rng.uniform(0.1, 1) * max(value, 1), places)
            return f"{abs(new):.{places}f}" if abs(new) != value else f"{value + 1:.{places}f}"
        value = int(s)
        step = rng.randint(1, max(2, value // 2))
        new = value + step if (value - step < 1 or rng.random() < 0.5) else value - step
        return str(new)
    out, count = NUMBER.subn(repl, text)
    return out if count and out != text else None


def words_swapped(text: str, rng: random.Random, rate: float = 0.5) -> str | None:
    """Synonyms for about `rate` of the dictionary words, and new names for people; at least two changes."""
    changes = 0

    def syn(m: re.Match) -> str:
        nonlocal changes
        word = m.group(0)
        options = SYNONYMS.get(word.lower())
        if not options or rng.random() > rate:
            return word
        changes += 1
        new = rng.choice(options)
        return new[0].upper() + new[1:] if word[0].isupper() else new
    out = re.sub(r"\b[A-Za-z]+\b", syn, text)
    names = [w for w in dict.fromkeys(re.findall(r"(?<=\w )[A-Z][a-z]{2,}\b", out)) if w not in NOT_NAMES]
    for name in names:
        out = re.sub(rf"\b{name}\b", rng.choice([n for n in NAMES if n != name]), out)
        changes += 1
    if changes < 2:  # too few dictionary words: swap two adjacent words as well
        words = out.split(" ")
        if len(words) < 4:
            return None if changes == 0 else out
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
        out = " ".join(words)
    return out if out != text else None


def sentences_reordered(text: str, rng: random.Random) -> str | None:
    """The sentences in another order (a one-sentence problem has its comma clauses rotated instead)."""
    parts = [p for p in SENTENCE.split(text.strip()) if p]
    if len(parts) < 2:
        parts = [p for p in text.strip().split(", ") if p]
        if len(parts) < 2:
            return None
        k = rng.randrange(1, len(parts))
        return ", ".join(parts[k:] + parts[:k])
    order = list(range(len(parts)))
    while order == sorted(order):
        rng.shuffle(order)
    return " ".join(parts[i] for i in order)


def rephrased(text: str, rng: random.Random) -> str | None:
    """All the edits together plus reworded question phrases and a lead-in: the hardest light edit."""
    out = numbers_changed(text, rng) or text
    out = words_swapped(out, rng, rate=0.8) or out
    out = sentences_reordered(out, rng) or out
    for pattern, new in QUESTION_REWORDS:
        out = re.sub(pattern, new, out)
    out = rng.choice(LEAD_INS) + out
    return out if out != text else None


EDITS = {"numbers": numbers_changed, "words": words_swapped, "reorder": sentences_reordered,
         "rephrase": rephrased}


def plant(items: list, rng: random.Random, kinds=tuple(EDITS)) -> list[tuple[str, str, object]]:
    """Edit each item once, cycling through `kinds`: [(kind, edited text, item)]; items no edit fits are skipped."""
    out = []
    for i, item in enumerate(items):
        kind = kinds[i % len(kinds)]
        edited = EDITS[kind](item.question, rng)
        if edited is not None:
            out.append((kind, edited, item))
    return out
