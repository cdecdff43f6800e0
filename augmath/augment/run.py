"""`augmath augment`: make verified augmented data from GSM8K / MATH train seeds.

    augmath augment --source gsm8k --strategies numbers,reverse --out runs/gsm8k-exact
    augmath augment --source math --strategies complexity,rephrase --paths 4 --base-url URL --model NAME --out R

Per seed, per strategy, per round: the strategy makes a query (exactly, or through an LLM whose output its
parser checks); queries without a solution that is correct by construction get k sampled paths, verified
against the known gold (RFT filter) or settled by majority vote (augmath.augment.verify); the rows are then
deduplicated (augmath.decontam.dedup) and decontaminated against every evaluation set (augmath.decontam.run).
All model calls go through the engine's durable log RUN_DIR/requests.jsonl, so running the same command
again sends only what is missing, and item building is deterministic (seeded per seed id and round), so a
rerun writes identical items. Queries and reasoning paths may come from different endpoints
(augmath.augment.endpoints); a role without a URL uses the embedded SmolLM2 server, started for the run when
a model is needed. How queries are asked for (per-strategy or the paper's one-request-for-five prompt, the
`numbers` mode, query sampling) is augmath.augment.queries. A bad model output never stops a run; it is a
dropped row with its reason.
Writes RUN_DIR/{run.json, requests.jsonl, items.jsonl, dropped.jsonl, report.json} (see docs/augment.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

from augmath import __version__
from augmath.augment.batch import WAITING_EXIT, BatchPending, add_batch_arguments, check_batch_arguments
from augmath.augment.cost import add_token_costs, label_requests, tokens_per_strategy
from augmath.augment.endpoints import Engines, add_endpoint_arguments, endpoint_of
from augmath.augment.plan import add_plan_arguments, make_plan, print_plan
from augmath.engine.budget import add_budget_arguments, budget_from_args
from augmath.augment.queries import add_query_arguments, parse_queries, plan_queries, query_params
from augmath.augment.rows import Tally, dropped_row, item_row
from augmath.augment.shards import in_shard, parse_shard, write_heads
from augmath.io import (DataError, folder_lock, read_json_object, read_jsonl, sha256_file, write_json_atomic,
                        write_jsonl_atomic)
from augmath.options import POSITIVE, PROBABILITY, SECONDS, TEMPERATURE, check_output_folder
from augmath.redaction import redact_url
from augmath.augment.strategies import Query, get
from augmath.augment.until import add_until_arguments, check_until_arguments, sample_until, until_report
from augmath.augment.strategies.paper import PAPER
from augmath.augment.verify import SELECTIONS, SOLVER_TEMPLATE, decide, filter_paths, majority, solver_messages
from augmath.urls import check_reachable, parse_base_url_list


def add_arguments(p: argparse.ArgumentParser) -> None:
    from augmath.sources import DATA_DIR_HELP  # a short, light module: help text only

    p.add_argument("--source", required=True, choices=["gsm8k", "math"], help="seed benchmark (its train split)")
    p.add_argument("--strategies", default="numbers,reverse",
                   help="comma list: numbers,fraction,combine,conditional,complexity,rephrase,reverse,selfverify,paths")
    p.add_argument("--out", required=True, help="run folder (created; the same command resumes it)")
    p.add_argument("--limit", type=POSITIVE, default=None, help="first N seeds only")
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="run shard I of N (0-based; a seed's shard is fixed by its id): N machines each run one "
                        "into its own folder NAME-I, and `augmath build NAME-0 ... NAME-{N-1}` gives the dataset "
                        "of one unsharded run NAME (augmath.augment.shards)")
    p.add_argument("--rounds", type=POSITIVE, default=1, help="query rounds: one rewrite per strategy per seed each")
    p.add_argument("--paths", type=POSITIVE, default=4,
                   help="reasoning paths sampled per query without an exact solution")
    p.add_argument("--temperature", type=TEMPERATURE, default=0.7, help="sampling temperature of the paths")
    p.add_argument("--min-agreement", type=PROBABILITY, default=0.5,
                   help="majority votes below this agreement ratio are dropped (default 0.5); a vote without a strict "
                        "majority of the answers given (a 2-2 tie, 2-1-1) is dropped whatever this says")
    p.add_argument("--max-tokens", type=POSITIVE, default=None,
                   help="max new tokens per call (default: with the embedded server 400 gsm8k / 1024 math; with an "
                        "endpoint URL 1024 / 2048, so that a verbose model's replies are not cut off; "
                        "benchmarks/reply_lengths.py)")
    p.add_argument("--base-url", type=parse_base_url_list, default=None,
                   help="OpenAI-compatible endpoint (default: start the embedded server)")
    p.add_argument("--model", default=None, help="model name at --base-url (default: the server's first)")
    add_endpoint_arguments(p)
    add_query_arguments(p)
    add_plan_arguments(p)
    add_batch_arguments(p)
    add_until_arguments(p)
    p.add_argument("--path-selection", default="first", choices=SELECTIONS,
                   help="which correct paths stand for duplicates and survive --keep-paths: the first seen "
                        "(default), or the most diverse by edit distance (RFT's released scripts)")
    p.add_argument("--keep-paths", type=POSITIVE, default=None,
                   help="keep at most K distinct correct paths per query (default: all)")
    p.add_argument("--concurrency", type=POSITIVE, default=8, help="API calls in flight")
    add_budget_arguments(p)  # not part of the run's settings: a raised budget resumes the same run
    p.add_argument("--timeout", type=SECONDS, default=600.0,
                   help="seconds per API call attempt (default 600: a small CPU server under load is slow)")
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    p.add_argument("--no-llm", action="store_true", help="exact work only; whatever needs a model is dropped")
    p.add_argument("--skip-decontam", action="store_true",
                   help="do not check against evaluation sets (not for release)")
    p.add_argument("--replace", action="store_true",
                   help="--out holds a run with other settings: discard its outputs and run these settings "
                        "(without it such a run is refused; its requests.jsonl is kept, entries are keyed by prompt)")


def config_of(args: argparse.Namespace) -> dict:
    keys = ["source", "strategies", "limit", "rounds", "paths", "temperature", "min_agreement", "max_tokens",
            "base_url", "model", "data_dir", "no_llm", "skip_decontam",
            "query_base_url", "query_model", "response_base_url", "response_model", "prompt_style", "numbers",
            "query_temperature", "query_top_p", "first_round", "path_selection", "keep_paths", "shard",
            "until_correct", "paths_cap"]
    config = {"augmath_version": __version__, **{k: getattr(args, k) for k in keys}}
    return {**config, **{k: redact_url(config[k]) for k in URL_KEYS}}  # run.json is published with the dataset


# Endpoint URLs are recorded with their credentials masked (redact_url). With the version they are recorded but
# not settings: a new augmath version or another address of the same endpoint (the embedded server gets a new port
# each run) resumes a run; every other recorded key, present or future, must match.
URL_KEYS = ("base_url", "query_base_url", "response_base_url")
NOT_SETTINGS = ("augmath_version", *URL_KEYS)
OUTPUTS = ("run.json", "items.jsonl", "dropped.jsonl", "report.json", "shard_heads.jsonl")


def run_key(config: dict) -> str:
    """The identity of a run's settings; run.json and report.json both carry it, so build can match them."""
    return _hash(json.dumps({k: v for k, v in config.items() if k not in NOT_SETTINGS}, sort_keys=True))


def _claim_run_dir(out: Path, config: dict, replace: bool) -> None:
    """Refuse a folder holding a run with other settings (its items would be published under our run.json),
    unless --replace, which discards that run's outputs first. Call only while holding the folder's lock."""
    previous = out / "run.json"
    if not previous.exists():
        return
    old = read_json_object(previous).get("config", {})
    if not isinstance(old, dict):
        raise DataError(f"{previous}: field 'config' should be an object")
    # A setting added after that run was made counts as equal when it has its default (the old behaviour).
    parser = argparse.ArgumentParser(add_help=False)
    add_arguments(parser)
    defaults = {a.dest: a.default for a in parser._actions}
    differ = sorted(k for k in set(old) | set(config)
                    if k not in NOT_SETTINGS and old.get(k, defaults.get(k)) != config.get(k))
    if not differ:
        return
    if not replace:
        shown = ", ".join(f"{k} {old.get(k)!r} -> {config.get(k)!r}" for k in differ)
        raise DataError(f"{out} holds a run with other settings ({shown}); pass --replace to discard it, "
                        "or use another --out")
    for name in OUTPUTS:
        (out / name).unlink(missing_ok=True)
    print(f"augment: --replace: discarded the previous run in {out} (differed in {', '.join(differ)})",
          file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from augmath.engine.pool import parse_base_urls
    from augmath.sources import load

    started = time.time()
    out = Path(args.out)
    config = config_of(args)
    try:
        budget_from_args(args)  # a bad budget or endpoint list fails here, before the run folder is touched
        for key in URL_KEYS:
            parse_base_urls(getattr(args, key, None))
    except ValueError as e:
        raise DataError(str(e)) from None
    try:
        strategies = get(args.strategies)
    except ValueError as e:
        raise DataError(f"--strategies: {e}") from None
    for s in strategies:
        if not s.applies(args.source):
            raise DataError(f"--strategies: {s.name} does not apply to {args.source}")
    check_output_folder(out)
    shard = parse_shard(args.shard, out) if args.shard else None
    check_batch_arguments(args)
    check_until_arguments(args)
    all_seeds = load(args.source, "train", args.data_dir, args.limit)  # bad inputs fail before anything is created
    seeds = [s for s in all_seeds if in_shard(s.id, *shard)] if shard else all_seeds
    if args.plan:  # before the lock: a plan creates nothing
        kind = _kind(args)
        print_plan(make_plan(args, strategies, seeds, out, kind, max_tokens_for(args, "response", kind)))
        return 0
    # An endpoint that is down is one line now, not a traceback after run.json is written. A run with a request
    # log already may have nothing left to send (a batch imported by hand): it is not refused for a dead endpoint.
    if not args.no_llm and not (out / "requests.jsonl").exists():
        for option, urls in endpoint_urls(args).items():
            for url in parse_base_urls(urls):  # several endpoints of one model: each must answer
                check_reachable(url, option)
    with folder_lock(out, "augmath augment"):
        _claim_run_dir(out, config, args.replace)
        out.mkdir(parents=True, exist_ok=True)
        try:
            return _augment(args, out, config, strategies, seeds, started, all_seeds)
        except BatchPending as waiting:  # nothing final written: the rerun picks up from the log / the batch
            print(f"augment: {waiting}", file=sys.stderr)
            return WAITING_EXIT


def endpoint_urls(args: argparse.Namespace) -> dict[str, str]:
    """The endpoint URLs this run may call, by the option that gave each (the embedded server is not one)."""
    given = {"--base-url": args.base_url, "--query-base-url": args.query_base_url,
             "--response-base-url": args.response_base_url}
    return {option: url for option, url in given.items() if url}


# Default max new tokens per call. The embedded SmolLM2 server has 2048 tokens of context per slot (prompt
# included), and its 135M model rambles to the limit; a strong model at a URL writes solutions 2-3x as long as
# the references, which 400 / 1024 would cut off for 36% / 5% of GSM8K / MATH paths at 3x (a cut-off reply is
# rejected whole). Measured by benchmarks/reply_lengths.py; figures in docs/augment.md.
MAX_TOKENS = {"embedded": {"gsm8k": 400, "math": 1024}, "endpoint": {"gsm8k": 1024, "math": 2048}}


def max_tokens_for(args: argparse.Namespace, role: str, kind: str) -> int:
    """--max-tokens, else the default for the role's server (embedded, or a model at a URL)."""
    if args.max_tokens:
        return args.max_tokens
    return MAX_TOKENS["endpoint" if endpoint_of(args, role)[0] else "embedded"][kind]


def _augment(args: argparse.Namespace, out: Path, config: dict, strategies, seeds, started: float,
             all_seeds) -> int:
    from augmath.engine import Request

    kind, max_tokens = _kind(args), max_tokens_for(args, "response", _kind(args))
    prompt_hashes = {s.name: s.prompt_hash for s in strategies} | {"solver": _hash(SOLVER_TEMPLATE)}
    if args.prompt_style == "paper":
        prompt_hashes["paper"] = PAPER.prompt_hash
    run_json = {"config": config, "run_key": run_key(config), "seeds": len(seeds), "prompt_hashes": prompt_hashes,
                **({"seeds_in_run": len(all_seeds)} if args.shard else {}),
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    write_json_atomic(out / "run.json", run_json)
    tally = Tally([s.name for s in strategies])
    dropped: list[dict] = []

    def drop(row: dict) -> None:
        dropped.append(row)
        tally.drop(row)

    # 1. queries: exact ones now, LLM ones as requests (augmath.augment.queries)
    order = {(seed.id, s.name): (i, j) for i, seed in enumerate(seeds) for j, s in enumerate(strategies)}
    queries, pending, query_facts = plan_queries(seeds, strategies, args, tally, drop)
    print(f"augment: {len(seeds)} seeds, {len(queries)} exact queries, {len(pending)} requests to write the rest",
          file=sys.stderr)
    labels: dict[str, list[str]] = {}  # request key -> strategies, for the tokens each strategy spent
    with contextlib.ExitStack() as stack:
        engines, phases, failed = Engines(args, stack, out), {}, 0
        if pending:
            engine = engines.get("query")
            requests = [Request(p.messages, 1, query_params(p, args, max_tokens_for(args, "query", kind)), {"i": i})
                        for i, p in enumerate(pending)]
            completions = engine.run(requests)
            if engine.stopped:
                return _budget_stop(engine)
            phases["queries"] = engine.stats.summary()
            failed += len(engine.failures)
            labels.update(label_requests(engine.model, requests, [p.names for p in pending]))
            queries += parse_queries(pending, {c.meta["i"]: c for c in completions}, [r.params for r in requests],
                                     tally, drop)
        queries.sort(key=lambda q: (*order[(q.seed.id, q.strategy)], q.round))
        untrusted = [q for q in queries if not q.solution_trusted]
        engine = engines.get("response") if untrusted and args.paths > 0 and not args.no_llm else None
        sampled, path_params, asked = _sample_paths(engine, untrusted, args, kind, max_tokens, labels)
        if engine is not None and engine.stopped:
            return _budget_stop(engine)
        if sampled:
            phases["paths"] = engine.stats.summary()  # with --until-correct: its last round
            failed += len(engine.failures)
        items = _verify(queries, sampled, path_params, args, kind, tally, drop, asked)
        difficulty = until_report(untrusted, sampled, asked, args, kind) if args.until_correct and asked else None
        usage = dict(engines.last.stats.usage_in_log) if engines.last else {}
        generators = {role: engines.model(role) for role in ("query", "response")}
    items = _dedup_and_decontaminate(items, all_seeds, args, tally, drop,
                                     out if args.shard else None, [s.name for s in strategies])
    tally.count_items(items)
    write_jsonl_atomic(out / "items.jsonl", items)
    write_jsonl_atomic(out / "dropped.jsonl", dropped)
    strategies_report = tally.report()
    add_token_costs(strategies_report, tokens_per_strategy(out / "requests.jsonl", labels) if labels else {})
    report = {"source": args.source, "seeds": len(seeds), "items": len(items), "dropped": len(dropped),
              "strategies": strategies_report, "tokens": usage, "engine": phases,
              "generators": generators, "query_generation": query_facts,
              "failed_calls": failed,
              **({"difficulty_aware": difficulty} if difficulty else {}),
              "votes": {"held": 0, "tied vote": 0, **dict(tally.votes)},  # majority votes by outcome
              "dedup": tally.stage_counts.get("dedup", {}),
              "decontamination": {"removed": tally.stage_counts.get("decontam", {}), **tally.decontam},
              "elapsed_s": round(time.time() - started, 1),
              # written last: it names the run and the exact files it describes, so build can refuse a folder
              # whose parts come from different runs (one cut between these writes)
              "run_key": run_key(config),
              "files": {name: sha256_file(out / name) for name in ("items.jsonl", "dropped.jsonl")}}
    write_json_atomic(out / "run.json", {**run_json, "generators": generators})  # the models each role used
    write_json_atomic(out / "report.json", report)
    print(f"augment: {len(items)} items, {len(dropped)} dropped -> {out}", file=sys.stderr)
    for name, counts in report["strategies"].items():
        print(f"  {name}: {counts['queries_kept']}/{counts['seeds']} queries kept, {counts['items']} items",
              file=sys.stderr)
    if failed:
        print(f"augment: {failed} samples failed after retries; run the same command again to retry them",
              file=sys.stderr)
        return 1
    return 0


def _kind(args) -> str:
    return "gsm8k" if args.source == "gsm8k" else "math"
def _budget_stop(engine) -> int:
    """The budget stopped the engine: the calls made are in requests.jsonl; no items are written from a part."""
    print(f"augment: {engine.stopped}", file=sys.stderr)
    return 1


def _hash(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _sample_paths(engine, queries: list[Query], args, kind: str, max_tokens: int,
                  labels: dict) -> tuple[dict[int, list], dict, dict[int, int]]:
    """(query index -> usable completions sorted by sample index, sampling params, query index -> paths asked).
    Empty without a model. Fixed --paths per query, or rounds until k good paths (augmath.augment.until).
    Each request's key is labelled with its query's strategy in `labels` (tokens per strategy)."""
    params = {"temperature": args.temperature, "top_p": 0.95, "max_tokens": max_tokens}
    if not queries or engine is None or args.paths <= 0:
        return {}, params, {}
    from augmath.engine import Request

    if args.until_correct:
        sampled, asked, requests = sample_until(engine, queries, args, kind, params)
    else:
        requests = [Request(solver_messages(q.question, kind), args.paths, params, {"q": i})
                    for i, q in enumerate(queries)]
        out: dict[int, list] = defaultdict(list)
        for c in engine.run(requests):
            out[c.meta["q"]].append(c)
        sampled, asked = {i: sorted(cs, key=lambda c: c.index) for i, cs in out.items()}, {}
    served = [[queries[r.meta["q"]].strategy] for r in requests]
    for key, names in label_requests(engine.model, requests, served).items():
        labels[key] = list(dict.fromkeys(labels.get(key, []) + names))  # the model is known once it ran
    return sampled, params, asked


def _verify(queries: list[Query], sampled: dict, path_params: dict, args, kind: str, tally: Tally, drop,
            asked: dict[int, int] | None = None) -> list[dict]:
    """asked: paths asked per untrusted query (--until-correct); else --paths each."""
    asked = asked or {}
    items: list[dict] = []
    untrusted = [q for q in queries if not q.solution_trusted]
    index_of = {id(q): i for i, q in enumerate(untrusted)}
    for q in queries:
        name = q.strategy
        if q.solution_trusted:
            items.append(item_row(q, q.solution, q.gold, 0, "exact", {}, 1.0))
            continue
        completions = sampled.get(index_of[id(q)], [])
        if not completions:
            if args.no_llm or args.paths <= 0:
                why = "needs sampled paths (--no-llm)" if args.no_llm else "needs sampled paths (--paths 0)"
                drop(dropped_row("paths", why, q.seed, name, q.round, q))
            else:  # one row per lost path, as below, so sampled + not usable == queries x paths
                for _ in range(asked.get(index_of[id(q)], args.paths)):
                    drop(dropped_row("paths", "path not usable (empty, cut off or failed)", q.seed, name, q.round, q))
            continue
        model = completions[0].model
        # MATH evolution: the generator's own solution is one more voter (path 0); sampled paths follow.
        texts = ([q.solution] if q.solution else []) + [c.text for c in completions]
        makers = ([q.generator] if q.solution else []) + [model] * len(completions)
        tally.paths_sampled[name] += len(completions)
        n_asked = asked.get(index_of[id(q)], args.paths)
        lost = n_asked - len(completions)
        sampling = {**path_params, "paths_sampled": n_asked} if args.until_correct else path_params
        for _ in range(lost):
            drop(dropped_row("paths", "path not usable (empty, cut off or failed)", q.seed, name, q.round, q))
        if q.gold is None:
            vote = majority(texts, kind)
            why = decide(vote, args.min_agreement, min_votes=min(2, len(texts)))
            tally.votes[why or "held"] += 1
            if why:
                drop(dropped_row("paths", why, q.seed, name, q.round, q,
                                 detail=f"votes {vote.clusters[:5]} of {vote.total}"))
                continue
            answer, agreement = vote.answer, vote.agreement
            verdicts = filter_paths(texts, None, kind, agree_with=answer, selection=args.path_selection,
                                    keep=args.keep_paths)
        else:
            answer = q.gold
            verdicts = filter_paths(texts, answer, kind, selection=args.path_selection, keep=args.keep_paths)
            agreement = sum(v.reason != "wrong answer" and v.answer is not None for v in verdicts) / len(texts)
        kept = 0
        for v in verdicts:
            if v.kept:
                items.append(item_row(q, texts[v.index], answer, v.index, makers[v.index],
                                      sampling if makers[v.index] == model else q.sampling, agreement))
                kept += 1
            else:
                drop(dropped_row("paths", v.reason, q.seed, name, q.round, q, texts[v.index], v.index,
                                 generator=makers[v.index]))
        tally.paths_kept[name] += kept
        tally.agreement[name].append(agreement)
    return items


def _dedup_and_decontaminate(items: list[dict], seeds, args, tally: Tally, drop, shard_out: Path | None = None,
                             strategy_names: list[str] = ()) -> list[dict]:
    """Both work on queries, not rows: the k kept paths of one query share its question on purpose.
    `paths` (and imported `original`) queries are the seeds themselves, so they are not compared with the seeds.
    A shard (shard_out set) compares its queries with every seed of the run but not with each other, and
    writes the rest to shard_heads.jsonl for build to deduplicate across shards (augmath.augment.shards)."""
    from augmath.decontam import Decontaminator
    from augmath.decontam import dedup_rows

    groups: dict[str, list[dict]] = {}
    for row in items:
        groups.setdefault(row["query_id"], []).append(row)
    heads = [rows[0] for rows in groups.values()]
    removed: dict[str, tuple[str, str, str | None]] = {}  # query_id -> (stage, reason, detail)
    compared = [h for h in heads if h["strategy"] not in ("paths", "original")]
    _, dups = dedup_rows(compared, seeds, among_rows=shard_out is None)
    for d in dups:
        removed[d["query_id"]] = (
            "dedup", d.get("reason", "duplicate"), f"{d.get('duplicate_of')} similarity {d.get('similarity')}")
    if not args.skip_decontam:
        rest = [h for h in heads if h["query_id"] not in removed]
        if rest:
            checker = Decontaminator.from_eval_sets(args.data_dir)
            print(f"augment: {checker.describe()}", file=sys.stderr)
            flags = checker.flag([h["question"] for h in rest])
            tally.decontam = {**checker.summary(), "flagged_per_eval_set": Decontaminator.counts(flags)}
            for h, flag in zip(rest, flags):
                if flag is not None:
                    removed[h["query_id"]] = (
                        "decontam", f"{flag.stage} match: {flag.eval_set}", f"{flag.eval_id} score {flag.score}")
    if shard_out is not None:
        write_heads(shard_out, [h for h in compared if removed.get(h["query_id"], ("",))[0] != "dedup"],
                    {s.id: i for i, s in enumerate(seeds)}, {n: i for i, n in enumerate(strategy_names)},
                    {q for q, (stage, *_) in removed.items() if stage == "decontam"})
    kept = []
    for key, rows in groups.items():
        if key not in removed:
            kept.extend(rows)
            continue
        stage, reason, detail = removed[key]
        counts = tally.stage_counts.setdefault(stage, {})
        counts[reason] = counts.get(reason, 0) + 1  # queries removed (each with all its rows)
        for row in rows:
            _drop_item(row, stage, reason, drop, detail)
    return kept


def _drop_item(row: dict, stage: str, reason: str, drop, detail: str | None = None) -> None:
    out = {k: row.get(k) for k in ("id", "query_id", "seed_id", "source", "strategy", "round", "question",
                                   "response", "generator", "prompt_hash", "path_index")}
    drop({**out, "stage": stage, "reason": reason, "detail": detail})


def read_items(run_dir: str | Path) -> list[dict]:
    """The accepted rows of a run folder (for later stages and tests)."""
    return list(read_jsonl(Path(run_dir) / "items.jsonl"))
