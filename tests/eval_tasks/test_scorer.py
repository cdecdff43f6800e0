"""augmath's likelihood scorer (eval_tasks/scorer.py): the same numbers as lighteval's loop and a hand computation,
with the output layer on the reference positions only and a cached shared prefix; lighteval's loop where it must."""

from __future__ import annotations

import json
import random
import types

import pytest

from augmath.cli import main
from augmath.eval_tasks import scorer


@pytest.mark.parametrize("seqs, conts, expected", [
    ([[1, 2, 3, 4, 5], [1, 2, 3, 9, 9]], [1, 1], 3),         # common start, then they part
    ([[1, 2, 3, 4, 5], [1, 2, 3, 4, 5]], [2, 2], 2),         # identical: each keeps its last prompt token
    ([[1, 2, 3, 4, 5], [7, 2, 3, 4, 5]], [1, 1], 0),         # nothing shared
    ([[1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4]], [1, 2], 1),      # the shorter one's prompt bounds the prefix
    ([[1, 2, 3]], [5], 0),                                   # a continuation longer than the row (left-cut)
    ([], [], 0),
])
def test_shared_prefix(seqs, conts, expected):
    assert scorer.shared_prefix(seqs, conts) == expected


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from augmath.tiny import make_tiny_llama

    folder = make_tiny_llama(tmp_path_factory.mktemp("tiny") / "m")
    net = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(folder)
    return types.SimpleNamespace(model=net, tokenizer=tok, device="cpu"), folder


def _rows(n: int, prefix: int, seed: int = 0) -> tuple[list[list[int]], list[int]]:
    rng = random.Random(seed)
    head = [rng.randrange(3, 500) for _ in range(prefix)]
    seqs = [head + [rng.randrange(3, 500) for _ in range(rng.randrange(4, 40))] for _ in range(n)]
    return seqs, [rng.randrange(1, len(s) - prefix) for s in seqs]


@pytest.mark.parametrize("batch", [1, 3, 7])
@pytest.mark.parametrize("with_prefix", [False, True])
def test_forward_equals_the_full_log_softmax_row_by_row(tiny, batch, with_prefix):
    import torch

    model, _ = tiny
    seqs, conts = _rows(7, prefix=12)
    prefix = scorer.Prefix(model, seqs[0][:scorer.shared_prefix(seqs, conts)]) if with_prefix else None
    if with_prefix:
        assert len(prefix.tokens) >= 12
    got = []
    with torch.inference_mode():
        for start in range(0, len(seqs), batch):  # the cache is cut back after each batch and reused
            got += scorer._forward(model, seqs[start:start + batch], conts[start:start + batch], prefix)
    for (logprob, greedy), seq, c in zip(got, seqs, conts):
        assert logprob == pytest.approx(scorer._full(model, seq, c), abs=1e-4)
        with torch.inference_mode():
            argmax = model.model(torch.tensor([seq])).logits[0, len(seq) - c - 1:len(seq) - 1].argmax(-1)
        assert greedy == bool((argmax == torch.tensor(seq[len(seq) - c:])).all())


def test_a_model_whose_logits_are_not_lm_head_of_hidden_falls_back(tiny):
    """Fault injected: logits scaled after the output layer (as logit soft-capping or scaling models do)."""
    import torch

    model, _ = tiny

    class Scaled(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net, self.base_model = net, net.base_model

        def get_output_embeddings(self):
            return self.net.get_output_embeddings()

        def forward(self, ids, **kw):
            out = self.net(ids, **kw)
            out.logits = out.logits * 2
            return out

    seqs, conts = _rows(3, prefix=10)
    rows = [(0, s[:-c], s[-c:], s) for s, c in zip(seqs, conts)]
    assert scorer._agrees(model, rows, None)
    assert not scorer._agrees(types.SimpleNamespace(model=Scaled(model.model), tokenizer=model.tokenizer,
                                                    device="cpu"), rows, None)


@pytest.mark.slow
def test_augmath_eval_scores_the_same_with_either_scorer(tiny, tmp_path, monkeypatch):
    _, folder = tiny
    monkeypatch.setenv("AUGMATH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("AUGMATH_EVAL_DATA_ROOT", str(tmp_path / "eval_data"))
    details = {}
    for name in ("continuation", "lighteval"):
        out = tmp_path / name
        code = main(["eval", "--model", str(folder), "--tasks", "gsm8k_bpb,svamp_bpb", "--max-samples", "4",
                     "--data-dir", "packaged", "--batch-size", "3", "--quiet", "--no-cache", "--scorer", name,
                     "--out", str(out)])
        log = (out / "lighteval" / "lighteval.log").read_text()
        assert code == 0, log[-3000:]
        ran = [line for line in log.splitlines() if "augmath scorer:" in line]
        if name == "continuation":  # 8 sequences, the Alpaca preamble computed once, no fallback
            assert len(ran) == 2 and "8 sequences in batches of 3" in ran[0], ran
            assert int(ran[0].split("the output layer on the reference positions only, ")[1].split()[0]) >= 8
        else:
            assert ran == []
        assert json.loads((out / "results.json").read_text())["settings"]["scorer"] == name
        details[name] = {t: [json.loads(x) for x in (out / "details" / f"{t}.jsonl").read_text().splitlines()]
                         for t in ("gsm8k_bpb", "svamp_bpb")}
    for task, rows in details["continuation"].items():
        for ours, theirs in zip(rows, details["lighteval"][task], strict=True):
            assert ours["id"] == theirs["id"] and ours["tokens"] == theirs["tokens"]
            assert ours["nll"] == pytest.approx(theirs["nll"], rel=1e-6)  # fp32: summation order differs
