"""Training data and batching on real GSM8K items with a tiny random Llama: loss masking, packing isolation,
the batch plan. Fast (in-process, no accelerate launch)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from augmath.training.packing import (VARLEN, Schedule, collate_packed, collate_padded, loss_sum, plan_step,
                             register_varlen_attention)
from augmath.prompts import format_prompt
from augmath.training.data import IGNORE_INDEX, mixture_counts, tokenize_rows
from augmath.tiny import make_tiny_llama
from training_helpers import gsm8k_rows


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from transformers import AutoTokenizer

    path = make_tiny_llama(tmp_path_factory.mktemp("tiny") / "model")
    return path, AutoTokenizer.from_pretrained(path)


def load_model(path, attn):
    from transformers import AutoModelForCausalLM

    if attn == VARLEN:
        register_varlen_attention()
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_pretrained(path, attn_implementation=attn, dtype=torch.float32).eval()


def test_prompt_tokens_are_masked_and_response_ends_with_eos(tiny):
    _, tok = tiny
    rows = gsm8k_rows(6)
    examples, stats = tokenize_rows(rows, tok, "alpaca", max_length=2048)
    assert stats.kept == 6 and stats.truncated == 0
    for row, ex in zip(rows, examples):
        n_prompt = sum(label == IGNORE_INDEX for label in ex.labels)
        # The masked part is exactly the evaluation prompt; everything after it carries loss.
        assert tok.decode(ex.input_ids[:n_prompt]) == format_prompt(row["question"])
        assert all(label == IGNORE_INDEX for label in ex.labels[:n_prompt])
        assert ex.labels[n_prompt:] == ex.input_ids[n_prompt:]
        assert tok.decode(ex.labels[n_prompt:-1]) == row["response"]
        assert ex.labels[-1] == tok.eos_token_id
    assert stats.response_tokens == sum(sum(lab != IGNORE_INDEX for lab in e.labels) for e in examples)


def test_chat_template_prompt_is_masked(tiny):
    _, tok = tiny
    row = gsm8k_rows(1)[0]
    [ex], _ = tokenize_rows([row], tok, "chat", max_length=2048)
    n_prompt = ex.labels.count(IGNORE_INDEX)
    assert tok.decode(ex.input_ids[:n_prompt]).endswith("<|im_start|>assistant\n")
    assert tok.decode(ex.labels[n_prompt:]) == row["response"] + "<|im_end|>"


def test_model_loss_counts_only_response_tokens(tiny):
    """The loss the trainer backpropagates equals cross-entropy over response tokens alone; changing the
    prompt's labels cannot change it, changing a response token's label does."""
    path, tok = tiny
    examples, _ = tokenize_rows(gsm8k_rows(3), tok, "alpaca", max_length=2048)
    model = load_model(path, VARLEN)
    batch = collate_packed(examples, tok.pad_token_id)
    n_loss = sum(sum(lab != IGNORE_INDEX for lab in e.labels) for e in examples)
    with torch.no_grad():
        trained = loss_sum(model, batch) / n_loss  # what augmath.training.sft backpropagates
        logits = model(**{k: v for k, v in batch.items() if k != "labels"}, use_cache=False).logits[0].float()
        hf = model(**batch, use_cache=False, num_items_in_batch=n_loss).loss  # transformers' own loss
    labels = batch["labels"][0]
    targets = labels[1:]
    keep = targets != IGNORE_INDEX
    manual = F.cross_entropy(logits[:-1][keep], targets[keep], reduction="sum") / n_loss
    assert trained.item() == pytest.approx(manual.item(), rel=1e-5)
    assert hf.item() == pytest.approx(manual.item(), rel=1e-5)
    # Unmasking the prompt would change the loss: the mask is doing something.
    unmasked = F.cross_entropy(logits[:-1], batch["input_ids"][0][1:], reduction="sum") / (len(targets))
    assert abs(unmasked.item() - manual.item()) > 1e-3


def test_overlong_examples_are_truncated_or_dropped_and_counted(tiny):
    _, tok = tiny
    rows = gsm8k_rows(40)
    full, _ = tokenize_rows(rows, tok, max_length=10_000)
    limit = sorted(len(e) for e in full)[20]
    truncated, st = tokenize_rows(rows, tok, max_length=limit, overlong="truncate")
    prompt_lens = [e.labels.count(IGNORE_INDEX) for e in full]
    too_long_prompt = sum(p >= limit for p in prompt_lens)
    longer = sum(len(e) > limit for e in full)
    assert st.dropped_prompt_too_long == too_long_prompt
    assert st.truncated == longer - too_long_prompt and st.kept == 40 - too_long_prompt
    assert all(len(e) <= limit for e in truncated)
    dropped, sd = tokenize_rows(rows, tok, max_length=limit, overlong="drop")
    assert sd.kept == 40 - longer and sd.dropped_overlong + sd.dropped_prompt_too_long == longer
    assert sd.truncated == 0 and all(len(e) <= limit for e in dropped)


def per_sample_losses(logits_rows, label_rows):
    return [F.cross_entropy(lg[:-1].float(), lb[1:], ignore_index=IGNORE_INDEX, reduction="sum").item()
            for lg, lb in zip(logits_rows, label_rows)]


@pytest.mark.parametrize("attn", [VARLEN, "sdpa"])  # sdpa: transformers' block-diagonal mask from position ids
def test_packed_batch_gives_the_same_per_sample_loss_as_unpacked(tiny, attn):
    path, tok = tiny
    examples, _ = tokenize_rows(gsm8k_rows(5, offset=50), tok, max_length=2048)
    model = load_model(path, attn)
    with torch.no_grad():
        alone = [model(input_ids=torch.tensor([e.input_ids]), use_cache=False).logits[0] for e in examples]
        packed = collate_packed(examples, tok.pad_token_id)
        row = model(**{k: v for k, v in packed.items() if k != "labels"}, use_cache=False).logits[0]
        cu = packed["cu_seq_lens_q"].tolist()
        pieces = [row[s:e] for s, e in zip(cu[:-1], cu[1:])]
        # Same row without per-sample position ids: samples attend to each other -> different losses.
        leaky = model(input_ids=packed["input_ids"], use_cache=False).logits[0]
    labels = [torch.tensor(e.labels) for e in examples]
    want = per_sample_losses(alone, labels)
    assert per_sample_losses(pieces, labels) == pytest.approx(want, rel=1e-5, abs=1e-5)
    got_leaky = per_sample_losses([leaky[s:e] for s, e in zip(cu[:-1], cu[1:])], labels)
    assert got_leaky[1:] != pytest.approx(want[1:], rel=1e-3)


def test_packed_and_padded_batches_give_the_same_gradient(tiny):
    path, tok = tiny
    examples, _ = tokenize_rows(gsm8k_rows(4, offset=10), tok, max_length=2048)
    n_loss = sum(sum(lab != IGNORE_INDEX for lab in e.labels) for e in examples)
    grads = []
    for attn, collate in ((VARLEN, collate_packed), ("sdpa", collate_padded)):
        model = load_model(path, attn)
        loss = loss_sum(model, collate(examples, tok.pad_token_id)) / n_loss
        loss.backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert torch.allclose(grads[0], grads[1], rtol=1e-4, atol=1e-6)


def test_batch_plan_covers_each_example_once_with_equal_micro_batch_counts():
    lengths = [(i * 37) % 301 + 20 for i in range(130)]
    schedule = Schedule(len(lengths), global_batch=32, epochs=2, max_steps=-1, seed=3)
    assert schedule.steps_per_epoch == 5 and schedule.total_steps == 10
    seen = []
    for step in range(schedule.steps_per_epoch):
        batch = schedule.batch(step)
        plan = plan_step(batch, lengths, world=2, accum=3)
        assert [len(p) for p in plan] == [3, 3]
        flat = [i for rank in plan for micro in rank for i in micro]
        assert sorted(flat) == sorted(batch)
        seen += batch
    assert sorted(seen) == list(range(130))  # one epoch = every example once (last batch short)
    assert Schedule(130, 32, 2, -1, 3).batch(7) == schedule.batch(7)  # deterministic: resumable
    assert schedule.batch(5) != schedule.batch(0)  # a new permutation each epoch
    # Lengths are grouped: a micro-batch's samples are neighbours in length order.
    plan = plan_step(list(range(128)), lengths, world=1, accum=4)[0]
    assert all(max(lengths[i] for i in m) >= min(lengths[i] for i in n) for m, n in zip(plan, plan[1:]))


def test_short_last_batch_gives_idle_micro_batches_not_missing_ones():
    plan = plan_step([0, 1, 2], [5, 6, 7], world=2, accum=2)
    assert [len(p) for p in plan] == [2, 2]
    assert sum(len(m) for rank in plan for m in rank) == 3
    idle = collate_packed([], pad_id=0)
    assert idle["labels"].eq(IGNORE_INDEX).all()


def test_mixture_counts_split_n_by_weight():
    assert mixture_counts({"a": 1, "b": 1}, {"a": 100, "b": 100}, 11) == {"a": 6, "b": 5}
    assert mixture_counts({"a": 3, "b": 1}, {"a": 100, "b": 100}, 100) == {"a": 75, "b": 25}
    assert mixture_counts({"a": 2, "b": 1}, {"a": 100, "b": 60}, None) == {"a": 100, "b": 30}
