"""Models for training: the tiny test Llama, and the embedded SmolLM2 GGUF converted to a plain HF folder."""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from augmath.models import check_causal_lm, convert_embedded
from augmath.tiny import make_tiny_llama
from training_helpers import gsm8k_rows


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_tiny_llama_is_deterministic_and_its_tokenizer_handles_real_text(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    a, b = make_tiny_llama(tmp_path / "a"), make_tiny_llama(tmp_path / "b")
    assert _digest(a) == _digest(b)
    assert _digest(make_tiny_llama(tmp_path / "c", seed=1))["model.safetensors"] != _digest(a)["model.safetensors"]
    tok = AutoTokenizer.from_pretrained(a)
    assert (tok.eos_token, tok.pad_token) == ("<|im_end|>", "<|endoftext|>") and tok.eos_token_id != tok.pad_token_id
    row = gsm8k_rows(1)[0]
    for text in (row["question"], row["response"], "Ünïcode ✓ and $1,234.50"):
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert tok.decode(ids) == text and tok.unk_token_id not in ids
    digits = tok.convert_ids_to_tokens(tok("12345", add_special_tokens=False)["input_ids"])
    assert digits == ["1", "2", "3", "4", "5"]  # one token per digit, like Llama / SmolLM2
    prompt = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert prompt == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    model = AutoModelForCausalLM.from_pretrained(a)
    assert model.config.vocab_size == len(tok) == 512 and check_causal_lm(str(a)) == "llama"


@pytest.mark.slow
def test_embedded_gguf_converts_to_a_plain_trainable_folder(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = convert_embedded(tmp_path / "smollm2")
    config = json.loads((out / "config.json").read_text())
    assert "quantization_config" not in config and config["model_type"] == "llama"
    assert check_causal_lm(str(out)) == "llama"
    t0 = time.perf_counter()
    assert convert_embedded(out) == out and time.perf_counter() - t0 < 5  # idempotent: no second conversion
    model = AutoModelForCausalLM.from_pretrained(out)
    assert getattr(model, "hf_quantizer", None) is None
    assert 134_000_000 < sum(p.numel() for p in model.parameters()) < 136_000_000
    tok = AutoTokenizer.from_pretrained(out)
    ids = tok("Natalia sold clips to 48 of her friends.", return_tensors="pt")
    out_ = model(**ids, labels=ids["input_ids"])
    out_.loss.backward()  # trainable: gradients reach the embeddings
    assert torch.isfinite(out_.loss) and model.model.embed_tokens.weight.grad is not None
