"""Engine throughput vs a bare asyncio + openai loop, against the embedded llama-server, same run.

    python benchmarks/generation.py [--requests 16] [--max-tokens 96] [--rounds 6] [--concurrency 8]

Both arms send the same chat requests (same prompts, same seeds within a round) at the same concurrency to
the same server; rounds alternate which arm goes first, so drift in machine load hits both. The engine
arm pays for everything it does for real: key hashing, fsync'd log, stats, retry bookkeeping.
Reported: completed requests/s and completion tokens/s per arm, the ratio engine/bare (target >= 0.95),
and the time to resume a finished run (calls sent must be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import openai

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from augmath.engine.engine import Engine, Request  # noqa: E402
from augmath.engine.server import EmbeddedServer  # noqa: E402

NAMES = ["Ava", "Ben", "Chloe", "Dev", "Emma", "Finn", "Grace", "Hugo"]
ITEMS = ["apples", "marbles", "stickers", "books"]


def make_requests(count: int, max_tokens: int, round_index: int) -> list[Request]:
    out = []
    for i in range(count):
        a, b, c = 3 + i, 2 + (i * 7) % 11, 1 + i % 5
        name, item = NAMES[i % len(NAMES)], ITEMS[i % len(ITEMS)]
        question = (f"{name} has {a} {item}. She buys {b} more bags with {c} {item} in each bag. "
                    f"How many {item} does she have now? Think step by step.")
        # cache_prompt off: the second arm of a round must not get the first arm's prompts from the
        # server's prompt cache for free. Same seeds in both arms: the same tokens get generated.
        params = {"temperature": 0.7, "max_tokens": max_tokens, "seed": 1000 * round_index + i,
                  "cache_prompt": False}
        out.append(Request(messages=[{"role": "user", "content": question}], params=params, meta={"i": i}))
    return out


async def bare_loop(base_url: str, model: str, requests: list[Request], concurrency: int) -> dict:
    """The baseline: what one would write by hand. No log, no retries, no bookkeeping."""
    client = openai.AsyncOpenAI(base_url=base_url, api_key="local", max_retries=0, timeout=300)
    slots = asyncio.Semaphore(concurrency)
    tokens = 0
    done = 0

    async def one(request: Request):
        nonlocal tokens, done
        async with slots:
            params = dict(request.params)
            extra = {"cache_prompt": params.pop("cache_prompt")}
            reply = await client.chat.completions.create(model=model, messages=request.messages, **params,
                                                         extra_body=extra)
        tokens += reply.usage.completion_tokens
        done += 1

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(r) for r in requests))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await client.close()
    return {"requests": done, "completion_tokens": tokens, "seconds": elapsed, "client_cpu_s": cpu}


def engine_run(base_url: str, model: str, requests: list[Request], concurrency: int, log: Path) -> dict:
    engine = Engine(base_url=base_url, model=model, concurrency=concurrency, log_path=log, progress=False,
                    timeout=300)  # the bare loop's timeout: a slow call must not be retried in one arm only
    started, cpu = time.perf_counter(), time.process_time()
    engine.run(requests)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    stats = engine.stats
    return {"requests": stats.calls, "completion_tokens": stats.usage["completion_tokens"], "seconds": elapsed,
            "client_cpu_s": cpu,
            "samples_ok": stats.samples_ok, "rejected": dict(stats.samples_rejected), "retries": stats.retries}


def rate(runs: list[dict], what: str) -> float:
    return sum(r[what] for r in runs) / sum(r["seconds"] for r in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    with EmbeddedServer(parallel=args.concurrency) as server, tempfile.TemporaryDirectory() as tmp:
        # Warm-up (model pages, prompt cache) so the first measured arm is not penalised.
        asyncio.run(bare_loop(server.base_url, server.model, make_requests(args.concurrency, 16, 99),
                              args.concurrency))
        engine_runs, bare_runs, pair_ratios = [], [], []
        for r in range(args.rounds):
            requests = make_requests(args.requests, args.max_tokens, r)
            log = Path(tmp) / f"round{r}.jsonl"
            arms = ["engine", "bare"] if r % 2 == 0 else ["bare", "engine"]
            for arm in arms:
                if arm == "engine":
                    result = engine_run(server.base_url, server.model, requests, args.concurrency, log)
                    engine_runs.append(result)
                else:
                    result = asyncio.run(bare_loop(server.base_url, server.model, requests, args.concurrency))
                    bare_runs.append(result)
                print(f"round {r} {arm:6s}: {result['requests']} req in {result['seconds']:.1f}s, "
                      f"{result['requests'] / result['seconds']:.2f} req/s, "
                      f"{result['completion_tokens'] / result['seconds']:.1f} tok/s, "
                      f"client cpu {result['client_cpu_s']:.2f}s"
                      + (f", retries {result['retries']}" if "retries" in result else ""), flush=True)
            pair = bare_runs[-1]["seconds"] / engine_runs[-1]["seconds"]
            pair_ratios.append(pair)
            print(f"round {r} ratio engine/bare (req/s): {pair:.3f}", flush=True)

        # Resume a finished run: the same requests against the finished log must send nothing.
        last = make_requests(args.requests, args.max_tokens, args.rounds - 1)
        engine = Engine(base_url=server.base_url, model=server.model, concurrency=args.concurrency,
                        log_path=Path(tmp) / f"round{args.rounds - 1}.jsonl", progress=False)
        started = time.perf_counter()
        resumed = engine.run(last)
        resume_s = time.perf_counter() - started

    summary = {
        "server": f"llama-server, {server.model}, {args.concurrency} slots",
        "requests_per_round": args.requests, "max_tokens": args.max_tokens, "rounds": args.rounds,
        "concurrency": args.concurrency,
        "engine_req_per_s": round(rate(engine_runs, "requests"), 3),
        "bare_req_per_s": round(rate(bare_runs, "requests"), 3),
        "engine_tok_per_s": round(rate(engine_runs, "completion_tokens"), 1),
        "bare_tok_per_s": round(rate(bare_runs, "completion_tokens"), 1),
        # Client-side CPU per request: what the engine's bookkeeping costs, independent of server speed.
        "engine_client_cpu_ms_per_req": round(1000 * sum(r["client_cpu_s"] for r in engine_runs)
                                              / sum(r["requests"] for r in engine_runs), 2),
        "bare_client_cpu_ms_per_req": round(1000 * sum(r["client_cpu_s"] for r in bare_runs)
                                            / sum(r["requests"] for r in bare_runs), 2),
        "resume_seconds": round(resume_s, 3), "resume_calls_sent": engine.stats.calls,
        "resume_samples_returned": len(resumed),
    }
    summary["ratio_req_per_s"] = round(summary["engine_req_per_s"] / summary["bare_req_per_s"], 3)
    summary["ratio_tok_per_s"] = round(summary["engine_tok_per_s"] / summary["bare_tok_per_s"], 3)
    summary["ratio_per_round"] = [round(x, 3) for x in pair_ratios]
    summary["ratio_median_of_rounds"] = round(statistics.median(pair_ratios), 3)
    print(json.dumps(summary, indent=2))
    print(f"ratio engine/bare: {summary['ratio_req_per_s']:.3f} req/s, {summary['ratio_tok_per_s']:.3f} tok/s, "
          f"median of rounds {summary['ratio_median_of_rounds']:.3f} (target >= 0.95); resume of a finished run: {resume_s:.3f}s, {engine.stats.calls} calls sent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
