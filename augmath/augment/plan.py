"""`augmath augment ... --plan`: what a run would send and cost, before any call and without a run folder.

Per phase (queries, paths) and strategy: requests, samples, prompt tokens, completion tokens and money.
- Query requests are planned exactly as the run plans them (augmath.augment.queries.plan_queries), so their
  prompts are the real ones. Path requests of queries made without a model (numbers, reverse, ...) are exact
  too; the paths of queries a model will write are estimated with their seed's question as the question (a
  rewrite is about as long) and assume every query parses: an upper bound.
- Prompt tokens: the model's own tokenizer and chat template where augmath knows the model (the embedded
  SmolLM2, its tokenizer read from the GGUF by transformers, offline), or `--tokenizer NAME_OR_PATH` (an HF
  tokenizer that loads offline); else chars/4 + 4 per message (OpenAI's rule of thumb for English; the plan
  says which it used).
- Completion tokens: `max_tokens` x samples (the ceiling a provider may bill), and, when RUN/requests.jsonl
  exists, the measured mean completion tokens per sample of that phase's logged calls x samples.
- Samples the log already holds (same request keys as the run would use) are not sent again, and not counted
  in "to send"; the paths of model-written queries cannot be keyed before the queries exist.
- Money: prompt x --price-in + completion x --price-out (USD per 1M tokens), times (1 - --batch-discount) for
  a provider's Batch API (OpenAI's is 0.5).
"""

from __future__ import annotations

import functools
import sys
from collections import defaultdict
from pathlib import Path

from augmath.io import DataError

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4
PHASE_META = {"queries": "i", "paths": "q"}  # the meta key each phase's requests carry in the request log


def add_plan_arguments(p) -> None:
    p.add_argument("--plan", action="store_true",
                   help="print the requests, tokens and cost this run would spend, then stop (no call, no folder)")
    p.add_argument("--tokenizer", default=None,
                   help="--plan: HF tokenizer (name or folder, loaded offline) of a remote model")
    # --plan prices its tokens with --price-in/--price-out, the budget's options (augmath.engine.budget)
    p.add_argument("--batch-discount", type=float, default=0.0,
                   help="--plan: fraction off the prices for a provider Batch API (OpenAI: 0.5)")


class TokenCounter:
    """Prompt tokens of a chat request: a real tokenizer's chat template, or chars/4."""

    def __init__(self, tokenizer=None, name: str = f"chars/{CHARS_PER_TOKEN} + {TOKENS_PER_MESSAGE} per message"):
        self.tokenizer, self.name, self._cache = tokenizer, name, {}

    def __call__(self, messages: list[dict]) -> int:
        key = tuple((m["role"], m["content"]) for m in messages)
        if key not in self._cache:
            if self.tokenizer is not None:
                ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
                self._cache[key] = len(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)
            else:
                chars = sum(len(m["content"]) for m in messages)
                self._cache[key] = -(-chars // CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * len(messages)
        return self._cache[key]


@functools.lru_cache(maxsize=4)
def _load(name: str, gguf_file: str | None):
    from transformers import AutoTokenizer  # reading the GGUF's vocabulary takes ~10 s: once per process

    return AutoTokenizer.from_pretrained(name, **({"gguf_file": gguf_file} if gguf_file else {}))


def token_counter(embedded: bool, tokenizer: str | None) -> TokenCounter:
    try:
        import transformers  # noqa: F401
    except ImportError:
        return TokenCounter()
    try:
        if tokenizer:
            return TokenCounter(_load(tokenizer, None), tokenizer)
        if embedded:
            from augmath.engine import default_model_path

            path = default_model_path()
            return TokenCounter(_load(str(path.parent), path.name),
                                f"{path.name} (its own tokenizer and chat template)")
    except Exception as exc:  # noqa: BLE001 - offline / not a tokenizer: say so and fall back
        if tokenizer:
            raise DataError(f"--tokenizer {tokenizer!r}: cannot load it offline ({type(exc).__name__})") from None
        print(f"augment --plan: the embedded tokenizer did not load ({type(exc).__name__}); using chars/4",
              file=sys.stderr)
    return TokenCounter()


def measured_means(log_path: Path) -> dict[str, float]:
    """phase -> mean completion tokens per sample over the logged calls of that phase (meta key i / q)."""
    from augmath.engine import read_log

    if not log_path.is_file():
        return {}
    tokens, samples, seen = defaultdict(int), defaultdict(int), set()
    for _sample, call in read_log(log_path).done.values():
        usage, meta = call.get("usage") or {}, call.get("meta") or {}
        if id(call) in seen or not usage.get("completion_tokens"):
            continue
        seen.add(id(call))
        phase = next((p for p, k in PHASE_META.items() if k in meta), None)
        if phase:
            tokens[phase] += int(usage["completion_tokens"])
            samples[phase] += 1 if usage.get("partial") else len(call["samples"])  # llama.cpp: first choice only
    return {p: tokens[p] / samples[p] for p in tokens if samples[p]}


def _model_of(args, role: str) -> str | None:
    from augmath.augment.endpoints import endpoint_of

    base_url, model = endpoint_of(args, role)
    if model or base_url:
        return model
    return _embedded_name()


def _embedded_name() -> str | None:
    try:
        from augmath.engine import default_model_path

        return default_model_path().name.removesuffix(".gguf")  # the embedded server's name (EmbeddedServer)
    except Exception:  # noqa: BLE001
        return None


def make_plan(args, strategies, seeds, out: Path, kind: str, max_tokens: int, estimate_only: bool = False) -> dict:
    """estimate_only: chars/4 prompt tokens, no tokenizer loaded (`augmath experiment --plan`: one line a stage)."""
    from augmath.augment.queries import plan_queries, query_params
    from augmath.augment.rows import Tally
    from augmath.augment.verify import solver_messages
    from augmath.engine import read_log, sample_key

    if not 0 <= args.batch_discount < 1:
        raise DataError(f"--batch-discount {args.batch_discount}: a fraction from 0 to below 1 (0.5 = half price)")
    dropped: list = []
    tally = Tally([s.name for s in strategies])
    queries, pending, _ = plan_queries(seeds, strategies, args, tally, dropped.append)
    needs_model = bool(pending) or (args.paths > 0 and not args.no_llm and any(not q.solution_trusted for q in queries))
    query_model, path_model = _model_of(args, "query"), _model_of(args, "response")
    # the embedded model's tokenizer is known: for a run on the embedded server, or one that names its model
    embedded = not any(endpoint_of_any(args)) or {query_model, path_model} <= {_embedded_name()}
    count = token_counter(embedded, args.tokenizer) if needs_model and not estimate_only else TokenCounter()
    done = read_log(out / "requests.jsonl").done if (out / "requests.jsonl").is_file() else {}
    means = measured_means(out / "requests.jsonl")
    rows: dict[tuple[str, str], dict] = {}

    def add(phase: str, names: list[str], messages: list[dict], n: int, params: dict, model: str | None,
            exact: bool) -> None:
        keys = [sample_key(model, messages, params, i) for i in range(n)] if model and exact else []
        left = n - sum(k in done for k in keys)
        for name in names:
            row = rows.setdefault((phase, name), dict.fromkeys(
                ("requests", "samples", "in_log", "to_send", "prompt_tokens", "completion_tokens_max"), 0.0))
            share = 1 / len(names)
            row["requests"] += share * (1 if left else 0)
            row["samples"] += share * n
            row["in_log"] += share * (n - left)
            row["to_send"] += share * left
            row["prompt_tokens"] += share * count(messages) * (1 if left else 0)
            row["completion_tokens_max"] += share * left * params["max_tokens"]
            row["estimated"] = row.get("estimated", False) or not exact

    for p in pending:
        add("queries", p.names, p.messages, 1, query_params(p, args, max_tokens), query_model, True)
    if args.paths > 0 and not args.no_llm:
        from augmath.augment.until import cap_of

        params = {"temperature": args.temperature, "top_p": 0.95, "max_tokens": max_tokens}
        # --until-correct: up to the cap per query (an upper bound; the rounds stop earlier for easy queries)
        n, exact = (cap_of(args), False) if args.until_correct else (args.paths, True)
        for q in queries:
            if not q.solution_trusted:
                add("paths", [q.strategy], solver_messages(q.question, kind), n, params, path_model, exact)
        for p in pending:
            for name in p.names:
                add("paths", [name], solver_messages(p.seed.question, kind), n, params, path_model, False)
    prices = (args.price_in, args.price_out)
    factor = 1 - args.batch_discount
    table = []
    for (phase, name), row in rows.items():
        row = {k: (round(v) if isinstance(v, float) else v) for k, v in row.items()}
        mean = means.get(phase)
        row["completion_tokens_measured"] = round(mean * row["to_send"]) if mean is not None else None
        for label in ("max", "measured"):
            completion = row[f"completion_tokens_{label}"]
            usd = None
            if None not in prices and completion is not None:
                usd = round((row["prompt_tokens"] * prices[0] + completion * prices[1]) / 1e6 * factor, 4)
            row[f"usd_{label}"] = usd
        table.append({"phase": phase, "strategy": name, **row})
    totals = {k: sum(r[k] or 0 for r in table) for k in
              ("requests", "samples", "in_log", "to_send", "prompt_tokens", "completion_tokens_max")}
    for label in ("usd_max", "usd_measured", "completion_tokens_measured"):
        values = [r[label] for r in table]
        totals[label] = round(sum(values), 4) if values and None not in values else None
    return {"seeds": len(seeds), "exact_queries": len(queries), "query_requests": len(pending),
            "models": {"query": query_model, "response": path_model}, "tokenizer": count.name,
            "measured_mean_completion_tokens": {k: round(v, 1) for k, v in means.items()},
            "prices_per_1m": {"in": prices[0], "out": prices[1], "batch_discount": args.batch_discount},
            "rows": table, "total": totals}


def endpoint_of_any(args) -> list:
    return [getattr(args, k, None) for k in ("base_url", "query_base_url", "response_base_url")]


def print_plan(plan: dict, out=None) -> None:
    out = out or sys.stdout
    print(f"augment --plan: {plan['seeds']} seeds, {plan['exact_queries']} exact queries, "
          f"{plan['query_requests']} query requests; prompt tokens by {plan['tokenizer']}", file=out)
    head = f"{'phase':<8} {'strategy':<12} {'requests':>9} {'samples':>9} {'in log':>8} {'prompt tok':>11} " \
           f"{'compl. max':>11} {'compl. meas.':>12} {'USD max':>10} {'USD meas.':>10}"
    if plan["measured_mean_completion_tokens"]:
        print("measured mean completion tokens per sample in the run's request log: " + ", ".join(
            f"{k} {v}" for k, v in plan["measured_mean_completion_tokens"].items()), file=out)
    print(head, file=out)
    for r in [*plan["rows"], {"phase": "total", "strategy": "", **plan["total"]}]:
        def cell(v, w):
            return f"{'-' if v is None else (f'{v:,.4f}' if isinstance(v, float) else f'{v:,}'):>{w}}"
        mark = "~" if r.get("estimated") else " "
        print(f"{r['phase']:<8} {r['strategy']:<12}{mark}{cell(r['requests'], 8)} {cell(r['samples'], 9)} "
              f"{cell(r['in_log'], 8)} {cell(r['prompt_tokens'], 11)} {cell(r['completion_tokens_max'], 11)} "
              f"{cell(r['completion_tokens_measured'], 12)} {cell(r['usd_max'], 10)} {cell(r['usd_measured'], 10)}",
              file=out)
    print("~ estimated: paths of queries a model will write (seed question as the prompt; every query parsed)",
          file=out)


def stage_line(argv: list[str]) -> str:
    """One line for an augment stage of `augmath experiment --plan` (argv: what follows `augmath augment`)."""
    import argparse

    from augmath.augment.run import _kind, add_arguments, max_tokens_for
    from augmath.augment.strategies import get
    from augmath.sources import load

    parser = argparse.ArgumentParser(add_help=False)
    add_arguments(parser)
    try:
        args = parser.parse_args(argv)
        seeds = load(args.source, "train", args.data_dir, args.limit)
        kind = _kind(args)
        plan = make_plan(args, get(args.strategies), seeds, Path(args.out), kind,
                         max_tokens_for(args, "response", kind), estimate_only=True)
    except (DataError, ValueError, OSError, SystemExit) as exc:
        return f"calls: not planned ({type(exc).__name__}: {str(exc)[:120]})"
    t = plan["total"]
    return (f"calls: {t['requests']:,} requests to send, {t['samples']:,} samples ({t['in_log']:,} in the log), "
            f"~{t['prompt_tokens']:,} prompt (chars/4) + <= {t['completion_tokens_max']:,} completion tokens")
