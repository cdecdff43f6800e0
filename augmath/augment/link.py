"""Linking imported questions to the train records they were made from (`augmath import`).

    linker = SeedLinker(train_records)
    links = linker.link(texts)        # -> [Link(record | None, how, score)]

1. **exact**: the text equals a train question after normalisation (case, whitespace, curly quotes), score 1.0.
   Used with the published original question (MetaMathQA's `original_question`).
2. **nearest**: otherwise the train question with the highest cosine similarity of TF-IDF vectors over word
   uni- and bigrams, numbers left out (the `numbers` evolution and FOBAR masking change numbers, not words), if that
   similarity is at least `min_score`; the score is kept with the row.
3. **unlinked**: below `min_score` (kept only with `augmath import --allow-unlinked`).

Measured (benchmarks/link.py, docs/augment.md "Import"): all 3,318 exact `numbers`/`reverse` rewrites of the
first 2,000 GSM8K train seeds link to their own seed among the 7,473 (lowest score 0.66), while GSM8K *test*
questions, which have no seed in train, score a median 0.22 against train (99th percentile 0.54): hence the
default 0.5. Why TF-IDF and not the MiniLM embeddings of decontamination: that accuracy, at 2.4 s to index the
7,473 seeds and under 1 ms a query on a 2-core CPU, where MiniLM embeds tens of sentences a second.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from augmath.sources import Record

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")


def normalize(text: str) -> str:
    return " ".join(text.translate(_QUOTES).lower().split())


@dataclass(frozen=True)
class Link:
    record: Record | None
    how: str  # exact | nearest | unlinked
    score: float


class SeedLinker:
    def __init__(self, records: Sequence[Record], min_score: float = 0.5) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.records = list(records)
        self.min_score = min_score
        self.by_text = {}
        for r in self.records:
            self.by_text.setdefault(normalize(r.question), r)
        self.vectorizer = TfidfVectorizer(preprocessor=_masked, ngram_range=(1, 2), sublinear_tf=True)
        self.matrix = self.vectorizer.fit_transform([r.question for r in self.records])

    def link(self, texts: Sequence[str], batch: int = 2048) -> list[Link]:
        out: list[Link | None] = [None] * len(texts)
        rest = []
        for i, text in enumerate(texts):
            record = self.by_text.get(normalize(text))
            if record is not None:
                out[i] = Link(record, "exact", 1.0)
            else:
                rest.append(i)
        for start in range(0, len(rest), batch):
            chunk = rest[start:start + batch]
            sims = self.vectorizer.transform([texts[i] for i in chunk]) @ self.matrix.T  # rows are L2-normalised
            best = sims.argmax(axis=1).A1
            scores = sims.max(axis=1).toarray().ravel()
            for i, j, score in zip(chunk, best, scores):
                score = round(float(score), 4)
                out[i] = (Link(self.records[j], "nearest", score) if score >= self.min_score
                          else Link(None, "unlinked", score))
        return out  # type: ignore[return-value]


def _masked(text: str) -> str:
    return _DIGITS.sub(" ", normalize(text))
