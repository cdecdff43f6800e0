"""The queries of an augment run: those made without a model at once, the others as requests, then parsed.

Three settings decide how (all recorded in run.json; the defaults are the behaviour before they existed):
- `--prompt-style per-strategy|paper`. per-strategy: one request per (seed, strategy, round) with the
  strategy's own prompt, so every output is labelled by construction. paper: one request per (seed, round)
  asks for the selected MuggleMath evolutions at once with the paper's prompt (strategies/paper.py) and
  its reply is split into one query per evolution; the other strategies (rephrase, selfverify) keep their
  own prompts. A paper reply holds five questions (MATH: five with full solutions), so its request gets
  five times the per-call --max-tokens. Items of evolutions that were not selected are discarded.
- `--numbers exact|llm|exact+llm` (GSM8K seeds; MATH numbers are always an LLM rewrite): exact = the
  traced <<a=b>> chain recomputed (strategies/numbers.py), untraceable seeds dropped; llm = an LLM rewrite
  verified by majority vote like the other evolutions; exact+llm = exact where the chain applies, the LLM
  for the seeds it cannot trace (counted in report.json `query_generation.numbers_llm_fallback`).
- `--query-temperature` / `--query-top-p`: the sampling of query generation (default 0.7 / 0.95); each
  round is seeded separately (seed 1000 + round), so rounds differ.
"""

from __future__ import annotations

from dataclasses import dataclass

from augmath.augment.replies import framing
from augmath.augment.rows import Tally, dropped_row
from augmath.augment.strategies import EVOLUTION, Query, Reject, Strategy
from augmath.augment.strategies.paper import PAPER
from augmath.options import NON_NEGATIVE, TEMPERATURE, number
from augmath.sources import Record

PROMPT_STYLES = ("per-strategy", "paper")
NUMBERS_MODES = ("exact", "llm", "exact+llm")
PAPER_TOKENS_FACTOR = 5  # a paper reply holds five queries


@dataclass
class Pending:
    """One query-generation request: a strategy's own prompt, or the paper prompt for several evolutions."""
    seed: Record
    round: int
    strategies: list[Strategy]
    messages: list[dict]
    paper: bool = False

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.strategies]


def add_query_arguments(p) -> None:
    p.add_argument("--prompt-style", default="per-strategy", choices=PROMPT_STYLES,
                   help="per-strategy: one request per strategy (default); paper: one request per seed asks for "
                        "the five MuggleMath evolutions at once, with the paper's prompt")
    p.add_argument("--numbers", default="exact", choices=NUMBERS_MODES,
                   help="GSM8K `numbers`: exact chain (default), llm rewrite + majority vote, or exact+llm "
                        "(the LLM for seeds the chain cannot trace)")
    p.add_argument("--query-temperature", type=TEMPERATURE, default=0.7,
                   help="sampling temperature of query generation")
    p.add_argument("--query-top-p", type=number(0, 1, low_open=True), default=0.95, help="top_p of query generation")
    p.add_argument("--first-round", type=NON_NEGATIVE, default=0,
                   help="index of this run's first round (rows' `round`), so runs made by different generators "
                        "can each make their own rounds (default 0)")


def _exact(s: Strategy, seed: Record, r: int, numbers: str, fallbacks: list) -> Query | None:
    """The query made without a model, or None when a model must write it. Raises Reject."""
    if s.name == "numbers" and seed.source == "gsm8k":
        if numbers == "llm":
            return None
        try:
            return s.exact(seed, r)
        except Reject:
            if numbers == "exact+llm":
                fallbacks.append(seed.id)
                return None
            raise
    return s.exact(seed, r)


def plan_queries(seeds: list[Record], strategies: list[Strategy], args, tally: Tally,
                 drop) -> tuple[list[Query], list[Pending], dict]:
    """(queries made without a model, requests for the rest, facts for report.json). Drops are counted."""
    queries: list[Query] = []
    llm: dict[tuple[str, int], list[Strategy]] = {}  # (seed id, round) -> strategies a model must write
    fallbacks: list[str] = []
    first = args.first_round
    for seed in seeds:
        for s in strategies:
            for r in range(first, first + (args.rounds if s.per_round else 1)):
                tally.seeds[s.name] += 1
                try:
                    q = _exact(s, seed, r, args.numbers, fallbacks)
                    if q is None and args.no_llm:
                        raise Reject("needs an LLM (--no-llm)")
                except Reject as e:
                    drop(dropped_row("query", str(e), seed, s.name, r))
                    continue
                if q is None:
                    llm.setdefault((seed.id, r), []).append(s)
                    continue
                queries.append(q)
                tally.queries[s.name] += 1
    pending: list[Pending] = []
    by_id = {seed.id: seed for seed in seeds}
    for (seed_id, r), group in llm.items():
        seed = by_id[seed_id]
        evolutions = [s for s in group if args.prompt_style == "paper" and s.name in EVOLUTION]
        if evolutions:
            pending.append(Pending(seed, r, evolutions, PAPER.messages(seed), paper=True))
        for s in group:
            if s in evolutions:
                continue
            try:
                pending.append(Pending(seed, r, [s], s.messages(seed, r)))
            except Reject as e:  # e.g. selfverify on a question with no number to mask
                drop(dropped_row("query", str(e), seed, s.name, r))
    facts = {"prompt_style": args.prompt_style, "numbers": args.numbers, "temperature": args.query_temperature,
             "top_p": args.query_top_p, "first_round": first}
    if args.numbers == "exact+llm":
        facts["numbers_llm_fallback"] = len(fallbacks)
    return queries, pending, facts


def query_params(p: Pending, args, max_tokens: int) -> dict:
    return {"temperature": args.query_temperature, "top_p": args.query_top_p,
            "max_tokens": max_tokens * (PAPER_TOKENS_FACTOR if p.paper else 1), "seed": 1000 + p.round}


def parse_queries(pending: list[Pending], completions: dict[int, object], params: list[dict], tally: Tally,
                  drop) -> list[Query]:
    """Model outputs -> Queries; every output a strategy cannot use is a counted drop with the raw text."""
    out: list[Query] = []
    for i, p in enumerate(pending):
        c = completions.get(i)
        if c is None:
            for name in p.names:
                drop(dropped_row("query", "no usable completion (empty, cut off or failed)", p.seed, name, p.round))
            continue
        if p.paper:
            results = PAPER.parse(p.seed, c.text, p.round, c.model, params[i], p.names)
        else:
            s = p.strategies[0]
            try:
                results = {s.name: s.parse(p.seed, c.text, p.round, c.model, params[i])}
            except Reject as e:
                results = {s.name: e}
        for name, q in results.items():
            left = None if isinstance(q, Reject) else framing(q.question, p.seed.question)
            if left:  # the parsers' own check, again over every kept query: framing never reaches the data
                q = Reject(f"reply framing left in the question ({left})")
            if isinstance(q, Reject):
                drop(dropped_row("query", str(q), p.seed, name, p.round, detail=c.text[:2000], generator=c.model))
                continue
            out.append(q)
            tally.queries[name] += 1
    return out
