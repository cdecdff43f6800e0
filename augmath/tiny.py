"""A tiny random Llama and a real (small) tokenizer, built offline in a few seconds, for tests.

    from augmath.tiny import make_tiny_llama
    path = make_tiny_llama(tmp_path / "tiny")          # -> a normal HF folder: AutoModelForCausalLM / AutoTokenizer load it

Why a trained tokenizer rather than a toy one: tests of training, evaluation and the experiment runner feed it
real GSM8K / MATH text and real prompts, so it must encode any text (byte-level: no unknown tokens), split
digits one by one like Llama / SmolLM2 do, and decode back exactly. It is a byte-level BPE trained on the
GSM8K + MATH train samples packaged with augmath (deterministic: the same corpus and settings give the same
vocabulary on every machine). It has SmolLM2's special tokens and ChatML chat template, so the same code paths
(alpaca prompt or chat template, eos appended to responses, padding) run on the tiny model and on SmolLM2.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

# The same special tokens and ids as SmolLM2: 0 pads (and would be bos), 1/2 open/close a chat turn, 2 ends a sequence.
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
PAD_TOKEN, EOS_TOKEN = "<|endoftext|>", "<|im_end|>"
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _corpus() -> list[str]:
    """Questions and solutions from the packaged GSM8K / MATH train samples, plus the Alpaca prompt."""
    from augmath.prompts import ALPACA_TEMPLATE

    data_dir = Path(__file__).parent / "data"
    texts = [ALPACA_TEMPLATE.format(query="")]
    for name, fields in (("gsm8k_train_sample.jsonl", ("question", "answer")),
                         ("math_train_sample.jsonl", ("problem", "solution"))):
        path = data_dir / name
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: the tiny tokenizer is trained on the packaged samples")
        with open(path, encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                texts.extend(str(row[k]) for k in fields if row.get(k))
    return texts


def make_tokenizer(vocab: int = 512, texts: list[str] | None = None):
    """A byte-level BPE of `vocab` entries (>= 300: 256 bytes + specials + merges), as a transformers tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if vocab < 300:
        raise ValueError(f"vocab={vocab} is too small: a byte-level BPE needs 256 byte tokens + specials + merges (>= 300)")
    tok = Tokenizer(models.BPE())
    # Digits one by one (as in Llama/SmolLM2), then GPT-2 style byte-level words.
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab, special_tokens=SPECIAL_TOKENS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts if texts is not None else _corpus(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=PAD_TOKEN, eos_token=EOS_TOKEN, pad_token=PAD_TOKEN, unk_token=None,
        chat_template=CHATML_TEMPLATE, model_max_length=2048, padding_side="right",
    )


def make_tiny_llama(out_dir: str | os.PathLike, vocab: int = 512, *, hidden_size: int = 64, num_layers: int = 2,
                    num_heads: int = 4, num_kv_heads: int = 2, intermediate_size: int | None = None,
                    max_position_embeddings: int = 2048, seed: int = 0, texts: list[str] | None = None) -> Path:
    """Write a random LlamaForCausalLM (fp32, ~100K params at the defaults) + tokenizer to `out_dir`; return it.

    Deterministic: the same arguments give byte-identical weights and tokenizer. Signature is stable (other
    stages' tests import it): new options only ever get added as keyword arguments with defaults.
    """
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = make_tokenizer(vocab, texts)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=intermediate_size or 2 * hidden_size,
        num_hidden_layers=num_layers, num_attention_heads=num_heads, num_key_value_heads=num_kv_heads,
        max_position_embeddings=max_position_embeddings, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    # Seed a private generator state so building a tiny model never perturbs the caller's RNG stream.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id,
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m augmath.tiny", description="write a tiny random Llama + tokenizer")
    parser.add_argument("out_dir")
    parser.add_argument("--vocab", type=int, default=512)
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    args = parser.parse_args()
    print(make_tiny_llama(args.out_dir, args.vocab, hidden_size=args.hidden_size, num_layers=args.layers))
