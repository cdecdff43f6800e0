"""Engine throughput vs a bare asyncio + openai loop, against the embedded llama-server, same run.

    python benchmarks/generation.py [--requests 16] [--max-tokens 96] [--rounds 6] [--concurrency 8]
    python benchmarks/generation.py --instant [--requests 2000] [--rounds 3] [--levels 8,64,256]
    python benchmarks/generation.py --memory 20000,100000

--instant: the client's own cost. A local OpenAI-compatible server that answers at once with a short fixed
completion (started here, in its own process, on loopback) is driven by three arms at each concurrency:
a raw aiohttp POST loop (the wire's limit on this machine), a bare AsyncOpenAI loop (what one writes by
hand), and augmath's Engine with everything on (fsync'd log, keys, retries, stats). Rounds rotate the arms'
order. Printed: requests/s per arm and the ratios Engine/raw and Engine/bare.
--memory: peak RSS of `augmath generate` runs of N requests each against the instant server (input streamed
from a JSONL, results written with --results), and the per-request slope extrapolated to 1M requests.

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
sys.path.insert(0, str(Path(__file__).resolve().parent))

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


from instant_server import InstantServer  # noqa: E402  (benchmarks/instant_server.py)


def instant_messages(i: int) -> list[dict]:
    return [{"role": "user", "content": f"What is {i} + {i % 97}? Answer with the number only."}]


async def raw_arm(base_url: str, model: str, count: int, concurrency: int, offset: int) -> float:
    """The wire's limit: POST the JSON body, read and decode the JSON answer, nothing else."""
    import aiohttp

    slots = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def one(i: int):
            async with slots:
                async with session.post(base_url + "/chat/completions", json={
                        "model": model, "messages": instant_messages(offset + i), "max_tokens": 16,
                        "temperature": 0.7}) as resp:
                    json.loads(await resp.read())

        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(one(i) for i in range(count)))
        return count / (time.perf_counter() - started), (time.process_time() - cpu) / count


async def sdk_arm(base_url: str, model: str, count: int, concurrency: int, offset: int) -> float:
    import httpx

    client = openai.AsyncOpenAI(base_url=base_url, api_key="local", max_retries=0, timeout=300,
                                http_client=None if concurrency <= 100 else openai.DefaultAsyncHttpxClient(
                                    limits=httpx.Limits(max_connections=concurrency)))
    slots = asyncio.Semaphore(concurrency)

    async def one(i: int):
        async with slots:
            await client.chat.completions.create(model=model, messages=instant_messages(offset + i), max_tokens=16,
                                                 temperature=0.7)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(i) for i in range(count)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await client.close()
    return count / elapsed, cpu / count


def engine_arm(base_url: str, model: str, count: int, concurrency: int, offset: int, log: Path) -> float:
    requests = [Request(messages=instant_messages(offset + i), params={"max_tokens": 16, "temperature": 0.7})
                for i in range(count)]
    engine = Engine(base_url=base_url, model=model, concurrency=concurrency, log_path=log, progress=False)
    started, cpu = time.perf_counter(), time.process_time()  # process time: the fsync thread's CPU counts too
    out = engine.run(requests)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert len(out) == count and engine.stats.calls == count, (len(out), engine.stats.calls)
    return count / elapsed, cpu / count


def instant_main(args) -> int:
    levels = [int(x) for x in args.levels.split(",")]
    rates: dict[tuple[str, int], list[float]] = {}
    cpus: dict[tuple[str, int], list[float]] = {}
    arms = args.arms.split(",")
    with InstantServer() as server, tempfile.TemporaryDirectory(dir=args.log_dir) as tmp:
        asyncio.run(raw_arm(server.base_url, server.model, 200, 8, 0))  # warm-up
        for r in range(args.rounds):
            for c in levels:
                order = arms[r % len(arms):] + arms[:r % len(arms)]
                for arm in order:
                    offset = 10_000_000 * r + 100_000 * c  # fresh prompts: the engine never resumes here
                    if arm == "raw":
                        rate_, cpu = asyncio.run(raw_arm(server.base_url, server.model, args.requests, c, offset))
                    elif arm == "sdk":
                        rate_, cpu = asyncio.run(sdk_arm(server.base_url, server.model, args.requests, c, offset))
                    else:
                        rate_, cpu = engine_arm(server.base_url, server.model, args.requests, c, offset,
                                                Path(tmp) / f"r{r}-c{c}.jsonl")
                    rates.setdefault((arm, c), []).append(rate_)
                    cpus.setdefault((arm, c), []).append(cpu)
                    print(f"round {r} c={c:<4d} {arm:7s} {rate_:8.0f} req/s  client cpu {1000 * cpu:.2f} ms/req",
                          flush=True)
    med = {key: statistics.median(v) for key, v in rates.items()}
    # The machine's load drifts between rounds: the ratio of arms run back to back in one round is steadier
    # than the ratio of medians; both are printed.
    pair = {c: statistics.median(e / w for e, w in zip(rates[("engine", c)], rates[("raw", c)])) for c in levels}
    cpu_ms = {key: 1000 * statistics.median(v) for key, v in cpus.items()}
    print(f"\n{args.requests} requests per arm, {args.rounds} rounds; median req/s (client CPU ms/request); "
          f"instant server on loopback")
    print("| client, same server | " + " | ".join(f"c = {c}" for c in levels) + " |")
    print("|---|" + "---:|" * len(levels))
    names = {"raw": "raw aiohttp POST loop", "sdk": "bare `AsyncOpenAI` loop", "engine": "augmath Engine"}
    for arm in arms:
        cells = []
        for c in levels:
            cell = f"{med[(arm, c)]:,.0f} ({cpu_ms[(arm, c)]:.2f} ms)"
            if arm == "engine":
                cell += f": {med[(arm, c)] / med[('raw', c)]:.2f}x raw (per round {pair[c]:.2f}x)"
                cell += f", {med[(arm, c)] / med[('sdk', c)]:.1f}x bare" if "sdk" in arms else ""
            cells.append(cell)
        print(f"| {names[arm]} | " + " | ".join(cells) + " |")
    print(json.dumps({"median_req_per_s": {f"{a}@{c}": round(v) for (a, c), v in med.items()},
                      "client_cpu_ms_per_req": {f"{a}@{c}": round(v, 3) for (a, c), v in cpu_ms.items()},
                      "engine_over_raw": {c: round(med[("engine", c)] / med[("raw", c)], 3) for c in levels},
                      "engine_over_raw_per_round_median": {c: round(v, 3) for c, v in pair.items()}}))
    return 0


def memory_main(args) -> int:
    import resource
    import subprocess

    sizes = [int(x) for x in args.memory.split(",")]
    peaks = {}
    with InstantServer() as server, tempfile.TemporaryDirectory(dir=args.log_dir) as tmp:
        for size in sizes:
            inp = Path(tmp) / f"in{size}.jsonl"
            with inp.open("w") as handle:
                for i in range(size):
                    handle.write(json.dumps({"messages": instant_messages(i), "params": {"max_tokens": 16},
                                             "meta": {"id": f"q{i}"}}) + "\n")
            cmd = [sys.executable, "-c", "import resource, sys; from augmath.cli import main; code = main(sys.argv[1:]); "
                   "print('maxrss_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); "
                   "sys.exit(code)", "generate", str(inp), "--out", str(Path(tmp) / f"log{size}.jsonl"),
                   "--results", str(Path(tmp) / f"res{size}.jsonl"), "--base-url", server.base_url,
                   "--model", server.model, "--concurrency", "64", "--no-progress"]
            started = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
            elapsed = time.perf_counter() - started
            if done.returncode != 0:
                print(done.stderr[-2000:], file=sys.stderr)
                return 1
            peak_kb = int(done.stderr.rsplit("maxrss_kb", 1)[1].split()[0])
            summary = json.loads(done.stdout.strip().splitlines()[-1])
            peaks[size] = peak_kb / 1024
            print(f"{size:>8,} requests: peak RSS {peaks[size]:.1f} MB, {summary['calls']:,} calls, "
                  f"{elapsed:.0f}s ({size / elapsed:.0f} req/s incl. start-up)", flush=True)
    if len(sizes) >= 2:
        lo, hi = sizes[0], sizes[-1]
        slope = (peaks[hi] - peaks[lo]) / (hi - lo)  # MB per request
        print(f"slope {slope * 1024 * 1024:.0f} bytes/request; extrapolated to 1,000,000 requests: "
              f"{peaks[hi] + slope * (1_000_000 - hi):.0f} MB")
    return 0


def rate(runs: list[dict], what: str) -> float:
    return sum(r[what] for r in runs) / sum(r["seconds"] for r in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--instant", action="store_true", help="client-cost mode against an instant local server")
    parser.add_argument("--levels", default="8,64,256", help="--instant: concurrency levels")
    parser.add_argument("--arms", default="raw,sdk,engine", help="--instant: which arms (raw and engine needed)")
    parser.add_argument("--memory", default=None, help="peak RSS of generate runs of these sizes, e.g. 20000,100000")
    parser.add_argument("--log-dir", default=None, help="where the engine's logs go (default: the temp folder)")
    args = parser.parse_args()
    if args.instant:
        if args.requests == 16:
            args.requests = 2000
        if args.rounds == 6:
            args.rounds = 3
        return instant_main(args)
    if args.memory:
        return memory_main(args)

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
