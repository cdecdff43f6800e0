"""Batches for augmath.training.sft: which examples go in each optimizer step, on each process, in each micro-batch.

Every process computes the same plan from (seed, step) alone, so nothing is communicated, a resumed run picks
up exactly the batches it would have seen, and every process runs the same number of micro-batches per step
(FSDP and DeepSpeed gather parameters in every forward: unequal counts would hang them).

Two batchings (recipe key `batching`):
- packed (padding-free): a micro-batch is ONE row, its samples concatenated, position ids restarting at 0 for
  each sample. With sdpa the model runs `sdpa_varlen` (registered below): attention is computed sample by
  sample from the boundaries (`cu_seq_lens_q`, the flash-attention varlen convention), so samples never see
  each other and no compute is spent on cross-sample or padding positions. `packed_attention: mask` instead
  lets transformers build a block-diagonal mask from the restarting position ids (its packed-sequence
  detection); same isolation, but attention costs (row length)^2. flash_attention_2 uses the same kwargs natively.
- padded: a micro-batch is B rows padded to its longest; samples are grouped by length first (length-grouped
  batching) so little is wasted.
The loss is summed over response tokens and divided by the response tokens of the whole global batch, so the
gradient of a step is independent of how the batch was cut into micro-batches, processes or rows. Logits are
computed only at positions that have a target (`loss_sum`).
"""

from __future__ import annotations

import math

import torch

from augmath.training.data import IGNORE_INDEX, Example

VARLEN = "sdpa_varlen"


class Schedule:
    """Global batches: a fresh seeded permutation per epoch, cut into `global_batch` samples (the last may be short)."""

    def __init__(self, n_examples: int, global_batch: int, epochs: int, max_steps: int, seed: int):
        self.n, self.global_batch, self.seed = n_examples, global_batch, seed
        self.steps_per_epoch = math.ceil(n_examples / global_batch)
        self.total_steps = max_steps if max_steps > 0 else epochs * self.steps_per_epoch
        self._perm: tuple[int, list[int]] | None = None

    def epoch_of(self, step: int) -> int:
        return step // self.steps_per_epoch

    def batch(self, step: int) -> list[int]:
        epoch, i = divmod(step, self.steps_per_epoch)
        if self._perm is None or self._perm[0] != epoch:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm = (epoch, torch.randperm(self.n, generator=gen).tolist())
        return self._perm[1][i * self.global_batch: (i + 1) * self.global_batch]


def plan_step(indices: list[int], lengths: list[int], world: int, accum: int) -> list[list[list[int]]]:
    """plan[rank][micro] = example indices. Sorted by length, cut into world*accum contiguous chunks (similar
    lengths share a micro-batch), chunks dealt to ranks in snake order to balance tokens across processes."""
    order = sorted(indices, key=lambda i: (-lengths[i], i))
    slots = world * accum
    base, extra = divmod(len(order), slots)
    chunks, start = [], 0
    for k in range(slots):
        size = base + (1 if k < extra else 0)
        chunks.append(order[start: start + size])
        start += size
    plan: list[list[list[int]]] = [[] for _ in range(world)]
    for k, chunk in enumerate(chunks):
        rnd, pos = divmod(k, world)
        plan[pos if rnd % 2 == 0 else world - 1 - pos].append(chunk)
    return plan


def collate_packed(examples: list[Example], pad_id: int) -> dict[str, torch.Tensor | int]:
    """One padding-free row: concatenated ids/labels, per-sample position ids, cumulative sequence boundaries."""
    if not examples:  # an idle micro-batch (short last batch): one token, no loss, keeps collectives aligned
        examples = [Example([pad_id], [IGNORE_INDEX])]
    ids, labels, pos, cu = [], [], [], [0]
    for ex in examples:
        ids += ex.input_ids
        # The first token of every sample is a prompt token (-100): the row's shifted loss never asks a sample's
        # last token to predict the next sample's first token.
        labels += ex.labels
        pos += range(len(ex))
        cu.append(cu[-1] + len(ex))
    longest = max(len(ex) for ex in examples)
    cu_t = torch.tensor(cu, dtype=torch.int32)
    return {"input_ids": torch.tensor([ids]), "labels": torch.tensor([labels]), "position_ids": torch.tensor([pos]),
            "cu_seq_lens_q": cu_t, "cu_seq_lens_k": cu_t, "max_length_q": longest, "max_length_k": longest}


def collate_padded(examples: list[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """B rows right-padded to the longest; padding is masked out of attention and loss."""
    if not examples:
        examples = [Example([pad_id], [IGNORE_INDEX])]
    longest = max(len(ex) for ex in examples)
    ids = torch.full((len(examples), longest), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), longest), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(examples), longest), dtype=torch.long)
    for row, ex in enumerate(examples):
        ids[row, : len(ex)] = torch.tensor(ex.input_ids)
        labels[row, : len(ex)] = torch.tensor(ex.labels)
        mask[row, : len(ex)] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def loss_sum(model, batch: dict) -> torch.Tensor:
    """Summed next-token cross-entropy over response tokens, computing logits ONLY where there is a target.

    The prompt (~half of every example) needs hidden states but no logits: passing a boolean `logits_to_keep`
    mask makes the model apply its vocabulary projection to the response positions alone, which saves that
    share of the lm_head's forward and backward (a large part of a small model's compute: vocab 49K x width)
    and of the logits' memory. Equal to the full loss (tested)."""
    batch = dict(batch)
    labels = batch.pop("labels")
    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = labels[:, 1:] != IGNORE_INDEX  # position t predicts token t+1
    targets = labels[:, 1:][keep[:, :-1]]
    logits = model(**batch, use_cache=False, logits_to_keep=keep).logits  # (targets, vocab)
    return torch.nn.functional.cross_entropy(logits.float(), targets, reduction="sum")


def computed_tokens(batch: dict) -> int:
    """Positions the model computes for this micro-batch (real tokens + padding)."""
    return int(batch["input_ids"].numel())


def sdpa_varlen_attention(module, query, key, value, attention_mask, cu_seq_lens_q=None, **kwargs):
    """sdpa run separately on each packed sample of a (1, heads, tokens, dim) row, causal within the sample."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    kwargs.pop("is_causal", None)
    if cu_seq_lens_q is None or query.shape[0] != 1:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    bounds = cu_seq_lens_q.tolist()
    outs = [sdpa_attention_forward(module, query[:, :, s:e], key[:, :, s:e], value[:, :, s:e], None,
                                   is_causal=True, **kwargs)[0]
            for s, e in zip(bounds[:-1], bounds[1:])]
    return torch.cat(outs, dim=1), None


def register_varlen_attention() -> str:
    """Make `attn_implementation="sdpa_varlen"` available (idempotent); returns the name."""
    from transformers import AttentionInterface

    AttentionInterface.register(VARLEN, sdpa_varlen_attention)
    return VARLEN
