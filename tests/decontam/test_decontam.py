"""Decontamination on real benchmark items: planted edited test items are found, real train items are not.

The lexical stages run against every full evaluation set; the embedding stage (the real all-MiniLM-L6-v2,
tens of sentences/s on this CPU) runs against a small real subset so the test stays fast.
"""

from __future__ import annotations

import difflib
import json
import os
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from augmath import sources
from augmath.decontam.run import Decontaminator, Flag
from augmath.decontam.edits import numbers_changed, rephrased, sentences_reordered, words_swapped
from augmath.decontam.ngrams import NgramIndex, reference_tokens, word_hashes


@pytest.fixture(scope="module")
def data_dir() -> str:
    root = os.environ.get("AUGMATH_DATA_DIR")
    if not root or not Path(root, "gsm8k/test.jsonl").exists():
        pytest.fail("AUGMATH_DATA_DIR must point at the benchmark data (../shared/data); it is missing")
    return root


@pytest.fixture(scope="module")
def lexical(data_dir) -> Decontaminator:
    return Decontaminator.from_eval_sets(data_dir, require_all=True, embed_threshold=None)


@pytest.fixture(scope="module")
def eval_records(data_dir) -> list:
    return [r for name, split in sources.EVAL_SETS for r in sources.load(name, split, data_dir)]


def test_vectorised_tokens_equal_the_reference_normalisation(eval_records):
    texts = [r.question for r in eval_records[::7]] + [
        "", "1,200.5 apples and 3 4 pears", "Janet’s ducks\x1fx", "a [asy]draw((0,0)--(1,1));[/asy] b", "naïve café"]
    words, offsets = word_hashes(texts)
    for i, text in enumerate(texts):
        ref = reference_tokens(text)
        expected, _ = word_hashes(["0" if t == "NUM" else t for t in ref])
        assert np.array_equal(words[offsets[i]:offsets[i + 1]], expected), text
    assert reference_tokens("1,200.5 apples and 3 4 pears") == ["NUM", "apples", "and", "NUM", "pears"]
    assert reference_tokens("a [asy]draw((0,0));[/asy] b") == ["a", "b"]


def test_ngram_index_agrees_with_plain_python_sets(eval_records, data_dir):
    """Same answer as the obvious implementation: which queries share an n-gram with which items, and how many."""
    rng = random.Random(3)
    evals = [r.question for r in rng.sample(eval_records, 400)]
    queries = [numbers_changed(t, rng) or t for t in evals[:150]]
    queries += [r.question for r in sources.load("gsm8k", "train", data_dir, limit=300)]
    n = 8
    grams = [{tuple(t[i:i + n]) for i in range(len(t) - n + 1)} for t in map(reference_tokens, evals)]
    index = NgramIndex(evals, n=n, max_df=None)
    for workers in (1, 2):
        q, doc, shared, _, _ = index.match(queries, workers=workers, batch_chars=4000)
        found = dict(zip(q.tolist(), zip(doc.tolist(), shared.tolist())))
        for qi, text in enumerate(queries):
            toks = reference_tokens(text)
            mine = {tuple(toks[i:i + n]) for i in range(len(toks) - n + 1)}
            overlaps = [len(mine & g) for g in grams]
            best = max(overlaps)
            if best == 0:
                assert qi not in found
            else:
                assert found[qi][1] == best and overlaps[found[qi][0]] == best


def _near_copy(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, reference_tokens(a), reference_tokens(b)).ratio()


def test_lexical_stages_find_planted_test_items_in_every_eval_set(lexical, eval_records):
    rng = random.Random(0)
    by_set: dict[str, list] = {}
    for r in eval_records:
        by_set.setdefault(f"{r.source}/{r.split}", []).append(r)
    assert set(by_set) == {f"{n}/{s}" for n, s in sources.EVAL_SETS}
    for name, items in by_set.items():
        long_items = [r for r in items if len(reference_tokens(r.question)) >= 20]
        sample = rng.sample(long_items, 30)
        copies = lexical.flag([r.question.upper() for r in sample])
        assert all(f is not None and name in f.eval_sets for f in copies), name
        edited = [(numbers_changed(r.question, rng), r) for r in sample]
        flags = lexical.flag([e for e, _ in edited if e])
        assert sum(f is not None for f in flags) >= 0.8 * len(flags), name
    # A short MATH item has no 13-gram: the exact stage sees it (case and spacing do not matter).
    short = next(r for r in by_set["math/test"] if len(reference_tokens(r.question)) < 8)
    flag = lexical.flag(["  " + short.question.lower() + " "])[0]
    assert flag is not None and flag.stage == "exact" and flag.eval_id == short.id


def test_lexical_stages_leave_real_train_items_alone(lexical, data_dir):
    train = sources.load("gsm8k", "train", data_dir)
    flags = lexical.flag([r.question for r in train], workers=2)
    flagged = [(r, f) for r, f in zip(train, flags) if f is not None]
    assert len(flagged) <= 0.005 * len(train)
    texts = {r.id: r.question for r in lexical_records(lexical)}
    for r, f in flagged:  # the few hits are genuine near-copies (GSM8K train retells some MAWPS/ASDiv items)
        assert _near_copy(r.question, texts[f.eval_id]) >= 0.6, (r.id, f)


def lexical_records(deco: Decontaminator):
    return [type("R", (), {"id": ids[0][1], "question": t}) for t, ids in zip(deco.texts, deco.holders)]


def test_math500_items_count_for_both_sets(lexical, data_dir):
    item = sources.load("math500", "test", data_dir)[3]
    flag = lexical.flag([item.question])[0]
    assert set(flag.eval_sets) == {"math/test", "math500/test"}
    assert Decontaminator.counts([flag, None]) == {"math/test": 1, "math500/test": 1}


def test_works_with_only_the_packaged_samples_and_says_what_it_checked(data_dir):
    deco = Decontaminator.from_eval_sets("packaged", embed_threshold=None)
    assert "asdiv/test" in deco.missing and "mawps/test" in deco.missing
    assert "gsm8k/test" in deco.checked and "asdiv/test" not in deco.checked
    assert "NOT checked: asdiv/test" in deco.describe()
    sample = sources.load("gsm8k", "test", "packaged")[5]
    assert deco.flag([sample.question])[0].eval_id == sample.id
    with pytest.raises(RuntimeError, match="asdiv"):
        Decontaminator.from_eval_sets("packaged", require_all=True, embed_threshold=None)


@pytest.mark.slow
def test_embedding_stage_sees_edited_items_the_ngrams_miss(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("AUGMATH_CACHE_DIR", str(tmp_path))
    gsm, math, svamp = (sources.load(n, "test", data_dir) for n in ("gsm8k", "math", "svamp"))
    deco = Decontaminator(gsm[:30] + math[:30] + svamp[:15])
    rng = random.Random(1)
    planted = [(words_swapped(r.question, rng), r) for r in gsm[:8]]
    planted += [(sentences_reordered(r.question, rng), r) for r in svamp[:5] + gsm[8:12] + math[:10]]
    planted += [(rephrased(r.question, rng), r) for r in gsm[12:16]]
    planted = [(p, r) for p, r in planted if p]
    assert len(planted) >= 25
    negatives = sources.load("gsm8k", "train", data_dir, limit=12) + sources.load("math", "train", data_dir, limit=12)
    texts = [p for p, _ in planted] + [r.question for r in negatives]
    lexical = deco.lexical_flags(texts)
    best, sims = deco.nearest(texts)  # one pass of the model over the questions
    embedded = [deco.embedding_hit(q, j, s) for q, j, s in zip(texts, best.tolist(), sims.tolist())]
    right = [deco.holders[j][0][1] == r.id for j, (_, r) in zip(best.tolist(), planted)]
    assert sum(e and ok for e, ok in zip(embedded, right)) >= 0.8 * len(planted)
    assert sum(f is not None for f in lexical[:len(planted)]) < sum(embedded[:len(planted)])
    assert not any(embedded[len(planted):]) and not any(lexical[len(planted):])
    # MATH items need a higher cosine than word problems (their neighbourhoods are dense).
    k = next(i for i, (_, r) in enumerate(planted) if r.source == "math")
    assert deco.is_math[best[k]] and not deco.embedding_hit(texts[k], best[k], deco.math_embed_threshold - 0.01)
    # flag(): lexical first, the model only for the rest, and the flag names the stage and the item.
    flags = deco.flag([texts[0], negatives[0].question])
    assert flags[0] is not None and flags[0].eval_id == planted[0][1].id and flags[1] is None
    assert flags[0].stage == ("embedding" if lexical[0] is None else lexical[0].stage)
    assert len(list(tmp_path.glob("minilm-*.npz"))) == 1  # evaluation vectors were cached


@pytest.mark.slow
def test_fuzzy_stage_finds_heavy_retellings_the_embedding_misses(data_dir, tmp_path, monkeypatch):
    """Numbers, names, words and sentence order changed at once plus a lead-in: cosine alone falls short."""
    monkeypatch.setenv("AUGMATH_CACHE_DIR", str(tmp_path))
    gsm, math, svamp = (sources.load(n, "test", data_dir) for n in ("gsm8k", "math", "svamp"))
    items = gsm[:30] + math[:30] + svamp[:15]
    deco = Decontaminator(items)
    rng = random.Random(7)
    planted = [(p, r) for r in items if (p := rephrased(r.question, rng))]
    negatives = sources.load("gsm8k", "train", data_dir, limit=15) + sources.load("math", "train", data_dir, limit=15)
    texts = [p for p, _ in planted] + [r.question for r in negatives]
    flags = deco.flag(texts)
    deco.fuzzy_threshold = None
    without = deco.flag(texts)
    n = len(planted)
    by_stage = Counter(f.stage for f in flags[:n] if f is not None)
    # measured: 59 of 75 found (38 embedding, 14 fuzzy, 7 n-gram); 45 without the fuzzy stage
    assert sum(f is not None for f in flags[:n]) >= 0.75 * n, by_stage
    assert sum(f is not None for f in without[:n]) + 10 <= sum(f is not None for f in flags[:n]), by_stage
    fuzzy = [(f, r) for f, (_, r) in zip(flags, planted) if f is not None and f.stage == "fuzzy"]
    assert fuzzy and all(f.eval_id == r.id and f.score >= 2.0 for f, r in fuzzy)
    assert not any(flags[n:]), [f for f in flags[n:] if f]  # real train questions stay clean
    assert [f and f.stage for f in without] == [f and (None if f.stage == "fuzzy" else f.stage) for f in flags]


def test_cli_writes_flagged_clean_and_counts(data_dir, tmp_path, capsys):
    from augmath.cli import main

    gsm = sources.load("gsm8k", "test", data_dir)
    rows = [{"id": f"x{i}", "question": q} for i, q in enumerate(
        [gsm[10].question, "A farmer has 3 cows and buys 2 more. How many cows does he have now?",
         numbers_changed(gsm[20].question, random.Random(0))])]
    src = tmp_path / "mine.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["decontaminate", str(src), "--data-dir", data_dir, "--no-embedding"]) == 0
    out = tmp_path / "mine.decontam"
    report = json.loads((out / "report.json").read_text())
    assert report["flagged"] == 2 and report["flagged_per_eval_set"] == {"gsm8k/test": 2}
    assert report["missing"] == {} and len(report["checked"]) == len(sources.EVAL_SETS)
    assert report["embed_threshold"] is None and report["fuzzy_threshold"] is None  # no model stage ran
    flagged = [json.loads(line) for line in (out / "flagged.jsonl").read_text().splitlines()]
    assert [f["contamination"]["eval_id"] for f in flagged] == [gsm[10].id, gsm[20].id]
    assert [json.loads(line)["id"] for line in (out / "clean.jsonl").read_text().splitlines()] == ["x1"]
    # A run folder: items.jsonl is read; a row without the field is named by file and row.
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "items.jsonl").write_text(json.dumps({"question": "q"}) + "\n" + json.dumps({"query": "q"}) + "\n")
    # bad input is one line and exit 2 (augmath.cli), never a traceback
    assert main(["decontaminate", str(run_dir), "--data-dir", data_dir, "--no-embedding"]) == 2
    assert "items.jsonl: row 2: missing field 'question'" in capsys.readouterr().err


def test_flag_round_trips_to_json():
    f = Flag("ngram", "math/test", "math/test/algebra/1", 0.75, ("math500/test",))
    assert json.loads(json.dumps(f.to_dict())) == {"stage": "ngram", "eval_set": "math/test",
                                                   "eval_id": "math/test/algebra/1", "score": 0.75,
                                                   "also_in": ["math500/test"]}
