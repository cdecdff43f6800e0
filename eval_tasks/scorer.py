"""The likelihood scorer of lighteval's transformers backend: its output layer applied to the reference positions only.

    augmath eval --model M --tasks gsm8k_bpb                       # this scorer (the default)
    augmath eval --model M --tasks gsm8k_bpb --scorer lighteval    # lighteval's own loop, for comparison

lighteval's `TransformersModel._loglikelihood_tokens` runs the whole model over prompt + reference and takes a
log-softmax over the 49,152-word vocabulary at every position, the prompt's included, then keeps the reference's.
Here the transformer body runs over the same tokens, but the output layer and the log-softmax run only where a
reference token is predicted. The numbers are the same (tests/eval_tasks/test_scorer.py: to 1e-6 against lighteval's
loop and against a hand computation); what changes is the work: the output layer is a fifth of a 135M model's
FLOPs per token and the prompt a third of the tokens (benchmarks/likelihood.py has the timings).

Everything else is lighteval's: its tokenization (`tok_encode_pair`, pairwise), its answer cache (the scorer sits
below `loglikelihood`'s cache decorator), its ModelResponse. lighteval's loop is kept for what this one does not
do: rolling (perplexity) requests, several processes (its gather code), and a model whose output is more than
`lm_head(hidden)` (logit soft-capping or scaling): the first call checks one item both ways and falls back, with a
warning, when they disagree.
"""

from __future__ import annotations

import functools
import logging
import time

logger = logging.getLogger(__name__)

SCORERS = ("continuation", "lighteval")
MIN_PREFIX = 8  # shorter shared prefixes save less than the cache bookkeeping costs
AGREEMENT = 1e-3  # nats on one item's summed log-probability: far above fp32 noise, far below a real difference


def install() -> None:
    """Make this scorer the transformers backend's likelihood loop (in the lighteval child, before it runs)."""
    from lighteval.models.transformers.transformers_model import TransformersModel

    if getattr(TransformersModel._loglikelihood_tokens, "_augmath", False):
        return
    original = TransformersModel._loglikelihood_tokens

    def _loglikelihood_tokens(self, docs, rolling=False):
        accelerator = getattr(self, "accelerator", None)
        if rolling or (accelerator is not None and accelerator.num_processes > 1) or getattr(self, "_augmath_off",
                                                                                              False):
            return original(self, docs, rolling=rolling)
        seqs = _sequences(self, docs)
        prefix = _prefix(self, seqs)
        if not getattr(self, "_augmath_checked", False):
            self._augmath_checked = True
            if not _agrees(self, seqs, prefix):
                self._augmath_off = True
                return original(self, docs, rolling=rolling)
        return _score(self, docs, seqs, prefix)

    _loglikelihood_tokens._augmath = True
    TransformersModel._loglikelihood_tokens = _loglikelihood_tokens


def _sequences(model, docs) -> list[tuple[int, list[int], list[int], list[int]]]:
    """(doc index, context tokens, continuation tokens, model input) per (doc, choice), tokenized as lighteval does;
    the input is context + continuation left-cut to the model's length, as lighteval cuts it."""
    seqs = []
    for i, doc in enumerate(docs):
        contexts, continuations = model.tok_encode_pair(model.prompt_manager.prepare_prompt(doc), doc.choices,
                                                        pairwise=True)
        for ctx, cont in zip(contexts, continuations):
            seqs.append((i, ctx, cont, (ctx + cont)[-model.max_length:]))
    return seqs


def kept(c: int, n: int) -> int:
    """Reference tokens scored in a row of n tokens: all c, unless the left cut took some (then what is left; the
    first token has no prediction), and at least one."""
    return max(1, min(c, n - 1))


def shared_prefix(seqs: list[list[int]], conts: list[int]) -> int:
    """Tokens every sequence starts with (the prompt template's preamble; a few-shot block), cut so that each
    sequence keeps its last prompt token, whose hidden state predicts the first reference token."""
    if not seqs:
        return 0
    first, n = seqs[0], min(len(s) - kept(c, len(s)) - 1 for s, c in zip(seqs, conts))
    for s in seqs[1:]:
        k = 0
        while k < n and s[k] == first[k]:
            k += 1
        n = k
    return max(0, n)


class Prefix:
    """The key/value cache of the shared prefix, computed once per batch width and cut back after every use."""

    def __init__(self, model, tokens: list[int]):
        self.model, self.tokens, self.caches = model, tokens, {}

    def cache(self, rows: int):
        import torch

        if rows not in self.caches:
            ids = torch.tensor([self.tokens] * rows, dtype=torch.long, device=self.model.device)
            out = self.model.model.base_model(ids, use_cache=True)
            cache = getattr(out, "cache", None)  # transformers >= 5.24 names it so; before, past_key_values
            self.caches[rows] = cache if cache is not None else out.past_key_values
        cache = self.caches[rows]
        extra = cache.get_seq_length() - len(self.tokens)
        if extra > 0:  # what the last batch appended goes, the prefix stays (a negative crop: every version's
            cache.crop(-extra)  # "remove this many"; a positive one meant "keep this many" before transformers 5.2x)
        return cache


@functools.lru_cache(maxsize=None)
def _cache_argument(body_type: type) -> str:
    """`cache` in transformers >= 5.24 (where `past_key_values` is deprecated), `past_key_values` before; looked up
    once per model class, not once per forward pass."""
    import inspect

    return "cache" if "cache" in inspect.signature(body_type.forward).parameters else "past_key_values"


def _forward(model, batch: list[list[int]], conts: list[int], prefix: Prefix | None = None):
    """Summed log-probability and greedy-match flag of each row's last `conts[r]` tokens, the output layer applied
    to those positions only; with `prefix`, its tokens (which every row starts with) come from its cache."""
    import torch

    net = model.model
    skip = len(prefix.tokens) if prefix else 0
    width = max(map(len, batch)) - skip
    pad = model.tokenizer.pad_token_id if model.tokenizer.pad_token_id is not None else 0
    ids = torch.full((len(batch), width), pad, dtype=torch.long)
    rows, cols, targets, sizes = [], [], [], []
    for r, (seq, c) in enumerate(zip(batch, conts)):
        ids[r, :len(seq) - skip] = torch.tensor(seq[skip:], dtype=torch.long)
        c = kept(c, len(seq))
        rows += [r] * c
        cols += range(len(seq) - c - 1 - skip, len(seq) - 1 - skip)
        targets += seq[len(seq) - c:]
        sizes.append(c)
    # right padding and a causal model: the real positions never see the padding, so no attention mask is needed
    # (lighteval's loop passes none either); after a cached prefix the positions continue from its length
    cache = prefix.cache(len(batch)) if prefix else None
    kwargs = {} if cache is None else {_cache_argument(type(net.base_model)): cache, "use_cache": True}
    hidden = net.base_model(ids.to(model.device), **kwargs).last_hidden_state
    picked = hidden[torch.tensor(rows, device=hidden.device), torch.tensor(cols, device=hidden.device)]
    logits = net.get_output_embeddings()(picked).float()
    target = torch.tensor(targets, device=logits.device)
    logprobs = torch.log_softmax(logits, dim=-1).gather(1, target[:, None]).squeeze(1)
    greedy = logits.argmax(dim=-1) == target
    out = []
    for lp, eq in zip(logprobs.split(sizes), greedy.split(sizes)):
        out.append((float(lp.sum()), bool(eq.all())))
    return out


def _full(model, seq: list[int], c: int) -> float:
    """lighteval's computation for one row: log-softmax over every position, the continuation's kept."""
    import torch

    with torch.inference_mode():
        ids = torch.tensor([seq], dtype=torch.long, device=model.device)
        logp = torch.log_softmax(model.model(ids).logits.float(), dim=-1)[0]
        target = torch.tensor(seq[len(seq) - c:], device=logp.device)
        return float(logp[len(seq) - c - 1:len(seq) - 1].gather(1, target[:, None]).sum())


def _prefix(model, seqs) -> Prefix | None:
    """The shared prefix worth caching (MIN_PREFIX tokens or more), none for a model with sliding-window layers."""
    n = shared_prefix([s[3] for s in seqs], [len(s[2]) for s in seqs])
    if n < MIN_PREFIX or getattr(model.model.config, "sliding_window", None):
        return None
    return Prefix(model, seqs[0][3][:n])


def _agrees(model, seqs, prefix: Prefix | None) -> bool:
    """Whether this scorer computes lighteval's number on this model (its logits are lm_head(hidden state), its
    cache continues a sequence exactly), checked on the shortest item: two short forward passes."""
    import torch

    if not seqs:
        return True
    _, _, cont, seq = min(seqs, key=lambda s: len(s[3]))
    c = kept(len(cont), len(seq))
    try:
        with torch.inference_mode():
            fast = _forward(model, [seq], [c], prefix)[0][0]
        full = _full(model, seq, c)
    except Exception as e:  # a model without base_model / output embeddings / a croppable cache
        logger.warning("augmath scorer: %s: %s; using lighteval's likelihood loop", type(e).__name__, e)
        return False
    if abs(fast - full) > AGREEMENT * max(1.0, abs(full)):
        logger.warning("augmath scorer: log-prob %.6f != lighteval's %.6f on one item (a model whose logits are "
                       "not lm_head(hidden)); using lighteval's likelihood loop", fast, full)
        return False
    return True


def _score(model, docs, seqs, prefix: Prefix | None) -> list:
    """ModelResponses in the docs' order, scored longest first in batches of the configured size."""
    import torch
    from lighteval.models.model_output import ModelResponse
    from torch.nn.utils.rnn import pad_sequence
    from tqdm import tqdm

    size = max(1, int(getattr(model.config, "batch_size", None) or 1))
    logger.info("augmath scorer: %d sequences in batches of %d, the output layer on the reference positions only, "
                "%d shared prefix tokens computed once", len(seqs), size, len(prefix.tokens) if prefix else 0)
    order = sorted(range(len(seqs)), key=lambda k: -len(seqs[k][3]))  # similar lengths together: little padding
    scored: list = [None] * len(seqs)
    t0 = time.monotonic()
    with torch.inference_mode():
        for start in tqdm(range(0, len(order), size), disable=model.disable_tqdm):
            chunk = order[start:start + size]
            got = _forward(model, [seqs[k][3] for k in chunk], [len(seqs[k][2]) for k in chunk], prefix)
            for k, value in zip(chunk, got):
                scored[k] = value
    logger.info("augmath scorer: forward passes %.2f s", time.monotonic() - t0)
    of_doc: dict[int, list[int]] = {i: [] for i in range(len(docs))}
    for k, s in enumerate(seqs):
        of_doc[s[0]].append(k)
    responses = []
    for i in range(len(docs)):
        mine = of_doc[i]
        responses.append(ModelResponse(
            argmax_logits_eq_gold=[scored[k][1] for k in mine],
            logprobs=[scored[k][0] for k in mine],
            input_tokens=torch.tensor(seqs[mine[0]][1], dtype=torch.long) if mine else torch.tensor([]),
            output_tokens=pad_sequence([torch.tensor(seqs[k][2], dtype=torch.long) for k in mine],
                                       batch_first=True, padding_value=-1) if mine else torch.tensor([]),
        ))
    return responses
