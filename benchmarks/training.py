"""Benchmark: augmath.training.sft (training/sft.py) vs transformers' Trainer (what MuggleMath's/RFT's seed code uses), same run.

Same model (by default a random ~16M-parameter Llama with SmolLM2's tokenizer, fp32; --model embedded for
SmolLM2-135M-Instruct itself, --dtype bfloat16 for pure bf16),
same data (the first N real GSM8K train items, Alpaca prompt, loss on the response, max length 512, tokenized
once by augmath.training.data so both see identical token ids), same hyperparameters (lr 2e-5, cosine, 3% warmup,
4 samples per micro-batch x 4 accumulation = 16 per step, 1 epoch), one process on the CPU.

Variants:
  trainer         Trainer, random order, each micro-batch padded to its longest (the seed code's collator)
  trainer-group   Trainer with train_sampling_strategy="group_by_length" (stronger than the seed code's setup)
  sft-packed      training/sft.py, padding-free packed rows, attention per sample (sdpa_varlen) [default recipe]
  sft-packed-mask training/sft.py, packed rows, transformers' block-diagonal mask from position ids
  sft-padded      training/sft.py, length-grouped micro-batches padded to their longest
  trl             TRL's SFTTrainer, padding_free=True (the same token ids and labels, pre-tokenized), bf16 and
                  gradient checkpointing off (its CPU defaults are slow); needs `pip install --no-deps trl==1.16.0`
  trl-packed      TRL's SFTTrainer, packing=True (best-fit decreasing, padding-free)
Measured: real (non-pad) tokens per second over the training loop (model loading and saving excluded), and
padding waste = padded positions / computed positions. Tokens per CPU-second (the process's CPU time in the loop,
all threads) is reported too: on a shared machine wall time swings with other people's load, CPU time much less.
Each variant runs in its own process; with --rounds R the variants are interleaved R times, medians reported.

    nice -n 10 python benchmarks/training.py [--model embedded|tiny|PATH] [--n 64] [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # training_helpers: dataset folders of real GSM8K items
VARIANTS = ("trainer", "trainer-group", "sft-packed", "sft-packed-mask", "sft-padded")
OPTIONAL = ("trl", "trl-packed")  # need trl installed; run them with --variants
DTYPE = "float32"
HP = dict(learning_rate=2e-5, lr_scheduler_type="cosine", warmup_ratio=0.03, per_device=4, accum=4, epochs=1,
          max_length=512, seed=42)


def gsm8k_rows(n: int) -> list[dict]:
    from augmath.sources import load

    data_dir = os.environ.get("AUGMATH_DATA_DIR") or "packaged"
    records = load("gsm8k", "train", data_dir=data_dir, limit=None)[:n]
    if len(records) < n:
        raise SystemExit(f"only {len(records)} GSM8K train items in {data_dir}; lower --n or set AUGMATH_DATA_DIR")
    return [{"id": r.id, "question": r.question, "response": r.solution} for r in records]


def prepare(work: Path, model: str, n: int) -> tuple[str, Path]:
    from training_helpers import make_dataset

    from augmath.models import resolve_model
    from augmath.tiny import make_tiny_llama

    if model == "tiny":
        path = work / "tiny13m"
        if not (path / "config.json").exists():
            make_tiny_llama(path, 512, hidden_size=384, num_layers=8, num_heads=6, num_kv_heads=2,
                            intermediate_size=1024)
        model = str(path)
    elif model == "small":
        path = work / "small16m"
        if not (path / "config.json").exists():
            small_llama(path)
        model = str(path)
    else:
        model = resolve_model(model)
    return model, make_dataset(work / "dataset", {"gsm8k-bench": gsm8k_rows(n)})


def small_llama(path: Path) -> None:
    """A random ~16M-parameter Llama with SmolLM2's tokenizer (read from the GGUF), so sequence lengths, and
    therefore padding, are those of SmolLM2 on GSM8K; 4 layers of width 256 keep a CPU run to minutes."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from augmath.models import embedded_gguf

    gguf = embedded_gguf()
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=256, intermediate_size=768, num_hidden_layers=4,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True,
                         max_position_embeddings=2048, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(path)
    tok.save_pretrained(path)


def run_sft(model: str, dataset: Path, work: Path, variant: str) -> dict:
    from augmath.training import sft

    out = work / f"out-{variant}-{time.time_ns()}"
    batching = "padded" if variant == "sft-padded" else "packed"
    args = ["--model_name_or_path", model, "--dataset", str(dataset), "--dataset_config", "gsm8k-bench",
            "--output_dir", str(out), "--torch_dtype", DTYPE, "--batching", batching,
            "--packed_attention", "mask" if variant == "sft-packed-mask" else "varlen",
            "--per_device_train_batch_size", str(HP["per_device"]),
            "--global_batch_size", str(HP["per_device"] * HP["accum"]), "--learning_rate", str(HP["learning_rate"]),
            "--lr_scheduler_type", HP["lr_scheduler_type"], "--warmup_ratio", str(HP["warmup_ratio"]),
            "--num_train_epochs", str(HP["epochs"]), "--max_length", str(HP["max_length"]),
            "--seed", str(HP["seed"]), "--save_steps", "0", "--report_to", "none", "--logging_steps", "1"]
    recipe = work / "bench.yaml"
    recipe.write_text("{}\n")
    sft.main(["--config", str(recipe), *args])
    record = json.loads((out / "augmath_train.json").read_text())
    p = record["progress"]
    return {"tokens": p["tokens_seen"], "computed": p["computed_tokens"], "seconds": p["train_seconds"],
            "cpu_seconds": p["cpu_seconds"], "steps": p["steps"], "final_loss": p["final_loss"]}


def tokenized(model_path: str, dataset: Path):
    """(tokenizer, [{input_ids, labels}]): the rows tokenized once by augmath.training.data, for every variant."""
    import datasets
    from transformers import AutoTokenizer

    from augmath.dataset_builders import local_cache_dir
    from augmath.training.data import tokenize_rows

    tok = AutoTokenizer.from_pretrained(model_path)
    ds = datasets.load_dataset(str(dataset), "gsm8k-bench", split="train", cache_dir=local_cache_dir(str(dataset)))
    examples, _ = tokenize_rows([{"question": q, "response": r} for q, r in zip(ds["question"], ds["response"])],
                                tok, "alpaca", HP["max_length"], "truncate")
    return tok, [{"input_ids": e.input_ids, "labels": e.labels} for e in examples]


def _clock():
    from transformers import TrainerCallback

    class Clock(TrainerCallback):
        def on_train_begin(self, *a, **k):
            self.t0, self.c0 = time.perf_counter(), time.process_time()

        def on_train_end(self, *a, **k):
            self.seconds, self.cpu_seconds = time.perf_counter() - self.t0, time.process_time() - self.c0

    return Clock()


def run_trl(model_path: str, dataset: Path, work: Path, packing: bool) -> dict:
    """TRL's SFTTrainer on the same pre-tokenized rows (its `labels` column is used as is: loss on the response)."""
    import datasets
    import torch
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    tok, train = tokenized(model_path, dataset)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=getattr(torch, DTYPE), attn_implementation="sdpa")
    args = SFTConfig(
        output_dir=str(work / f"trl-{time.time_ns()}"), per_device_train_batch_size=HP["per_device"],
        gradient_accumulation_steps=HP["accum"], learning_rate=HP["learning_rate"],
        lr_scheduler_type=HP["lr_scheduler_type"], warmup_steps=HP["warmup_ratio"], num_train_epochs=HP["epochs"],
        seed=HP["seed"], save_strategy="no", report_to="none", logging_steps=1, use_cpu=True,
        bf16=DTYPE == "bfloat16", gradient_checkpointing=False,
        # rows are already truncated to max_length; padding-free without packing wants max_length=None
        max_length=HP["max_length"] if packing else None,
        padding_free=not packing, packing=packing, dataset_num_proc=None, dataloader_num_workers=0)
    clock = _clock()
    trainer = SFTTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_list(train),
                         processing_class=tok, callbacks=[clock])
    result = trainer.train()
    tokens = sum(len(r["input_ids"]) for r in train)  # padding-free: every computed position is a real token
    return {"tokens": tokens, "computed": tokens, "seconds": clock.seconds, "cpu_seconds": clock.cpu_seconds,
            "steps": result.global_step, "final_loss": trainer.state.log_history[-2].get("loss")}


def run_trainer(model_path: str, dataset: Path, work: Path, group: bool) -> dict:
    import datasets
    import torch
    from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

    from augmath.training.data import IGNORE_INDEX

    tok, train = tokenized(model_path, dataset)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    counts = {"tokens": 0, "computed": 0}

    def collate(features):  # the seed code's DataCollatorForSupervisedDataset: pad to the longest in the batch
        longest = max(len(f["input_ids"]) for f in features)
        ids = torch.full((len(features), longest), pad)
        labels = torch.full((len(features), longest), IGNORE_INDEX)
        mask = torch.zeros((len(features), longest), dtype=torch.long)
        for i, f in enumerate(features):
            ids[i, : len(f["input_ids"])] = torch.tensor(f["input_ids"])
            labels[i, : len(f["labels"])] = torch.tensor(f["labels"])
            mask[i, : len(f["input_ids"])] = 1
        counts["tokens"] += int(mask.sum())
        counts["computed"] += ids.numel()
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=getattr(torch, DTYPE), attn_implementation="sdpa")
    args = TrainingArguments(
        output_dir=str(work / f"trainer-{time.time_ns()}"), per_device_train_batch_size=HP["per_device"],
        gradient_accumulation_steps=HP["accum"], learning_rate=HP["learning_rate"],
        lr_scheduler_type=HP["lr_scheduler_type"], warmup_steps=HP["warmup_ratio"], num_train_epochs=HP["epochs"],
        seed=HP["seed"], save_strategy="no", report_to="none", logging_steps=1, use_cpu=True,
        train_sampling_strategy="group_by_length" if group else "random", remove_unused_columns=False,
        dataloader_num_workers=0)
    clock = _clock()
    trainer = Trainer(model=model, args=args, train_dataset=train, data_collator=collate, callbacks=[clock])
    if group:
        trainer.train_dataset = datasets.Dataset.from_list(train)  # group_by_length reads input_ids lengths
    result = trainer.train()
    return {"tokens": counts["tokens"], "computed": counts["computed"], "seconds": clock.seconds,
            "cpu_seconds": clock.cpu_seconds, "steps": result.global_step, "final_loss": trainer.state.log_history[-2].get("loss")}


def phase(args) -> None:
    global DTYPE
    DTYPE = args.dtype
    work = Path(args.work)
    model, dataset = prepare(work, args.model, args.n)
    if args.phase.startswith("trainer"):
        result = run_trainer(model, dataset, work, group=args.phase == "trainer-group")
    elif args.phase.startswith("trl"):
        result = run_trl(model, dataset, work, packing=args.phase == "trl-packed")
    else:
        result = run_sft(model, dataset, work, args.phase)
    print("RESULT " + json.dumps(result), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="small",
                   help="small (~16M, SmolLM2 tokenizer; default), embedded (SmolLM2-135M-Instruct), tiny, or a folder")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"],
                   help="weights dtype for both (bf16 is ~6x slower than fp32 on CPUs without native bf16, e.g. AVX2)")
    p.add_argument("--n", type=int, default=64, help="GSM8K train items (default 64 = 4 optimizer steps)")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--variants", default=",".join(VARIANTS),
                   help=f"comma list from {', '.join(VARIANTS + OPTIONAL)} (default: all but the TRL ones)")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    p.add_argument("--phase", default=None, help=argparse.SUPPRESS)
    p.add_argument("--work", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.phase:
        return phase(args)
    variants = args.variants.split(",")
    runs: dict[str, list[dict]] = {v: [] for v in variants}
    load0 = f"{os.getloadavg()[0]:.1f}"
    with tempfile.TemporaryDirectory(prefix="augmath-bench-train-") as work:
        prepare(Path(work), args.model, args.n)  # convert / build once, outside the timed phases
        for r in range(args.rounds):
            for v in variants:
                cmd = [sys.executable, __file__, "--phase", v, "--work", work, "--model", args.model, "--n", str(args.n),
                       "--dtype", args.dtype]
                proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
                line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
                if proc.returncode != 0 or not line:
                    raise SystemExit(f"{v} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
                res = json.loads(line[0][7:])
                res["tokens_per_second"] = res["tokens"] / res["seconds"]
                res["tokens_per_cpu_second"] = res["tokens"] / res["cpu_seconds"]
                res["padding_waste"] = 1 - res["tokens"] / res["computed"]
                runs[v].append(res)
                print(f"round {r + 1} {v:16s} {res['tokens_per_second']:8.1f} tok/s (wall) "
                      f"{res['tokens_per_cpu_second']:8.1f} tok/cpu-s  waste {res['padding_waste']:6.1%}"
                      f"  {res['tokens']} tokens in {res['seconds']:.1f} s, {res['steps']} steps, "
                      f"loss {res['final_loss']}", flush=True)
    def med(v, key):
        return statistics.median(x[key] for x in runs[v])

    summary = {}
    print(f"\nmodel={args.model} dtype={args.dtype} n={args.n} rounds={args.rounds} cpu cores={os.cpu_count()} "
          f"load average before/after: {load0} / {os.getloadavg()[0]:.1f}")
    print(f"{'variant':16s} {'tok/s wall':>10s} {'x trainer':>9s} {'tok/cpu-s':>10s} {'x trainer':>9s} {'pad waste':>10s}")
    for v in runs:
        tps, cps, waste = med(v, "tokens_per_second"), med(v, "tokens_per_cpu_second"), med(v, "padding_waste")
        r_wall = tps / med("trainer", "tokens_per_second") if "trainer" in runs else None
        r_cpu = cps / med("trainer", "tokens_per_cpu_second") if "trainer" in runs else None
        summary[v] = {"tokens_per_second": round(tps, 1), "ratio_vs_trainer": r_wall and round(r_wall, 3),
                      "tokens_per_cpu_second": round(cps, 1), "cpu_ratio_vs_trainer": r_cpu and round(r_cpu, 3),
                      "padding_waste": round(waste, 4), "runs": runs[v]}
        print(f"{v:16s} {tps:10.1f} {r_wall or 0:8.2f}x {cps:10.1f} {r_cpu or 0:8.2f}x {waste:10.1%}")
    for base in (b for b in OPTIONAL if b in runs):
        if "sft-packed" in runs:  # augmath's default loop against the library users would otherwise pick
            print(f"sft-packed vs {base}: {med('sft-packed', 'tokens_per_second') / med(base, 'tokens_per_second'):.2f}x "
                  f"tokens/s wall, {med('sft-packed', 'tokens_per_cpu_second') / med(base, 'tokens_per_cpu_second'):.2f}x "
                  f"tokens/cpu-s; final loss {med('sft-packed', 'final_loss'):.3f} vs {med(base, 'final_loss'):.3f}")
    if args.out:
        Path(args.out).write_text(json.dumps({"model": args.model, "dtype": args.dtype, "n": args.n, "hyperparameters": HP,
                                              "results": summary}, indent=2) + "\n")


if __name__ == "__main__":
    main()
