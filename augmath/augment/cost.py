"""Tokens spent per strategy, so a user paying for an API sees what each strategy costs.

Every request the run sends is keyed (augmath.engine.request_key: model + prompt + sampling) and labelled with
the strategies it serves. After the run, the calls the durable log holds for those keys are summed per
strategy: calls resumed from an earlier run count (they were paid for once, and the report describes the
data), calls of other settings in the same log do not. A paper-style request serves several evolutions at
once; its tokens are split evenly among the evolutions it was asked for. Path requests belong to the strategy
of their query. Exact strategies spend nothing.

report.json, per strategy: tokens {prompt_tokens, completion_tokens, total_tokens} and tokens_per_kept_row
(total tokens / rows kept after dedup and decontamination; null when no row was kept).
Caveat inherited from the servers: llama.cpp reports an n>1 call's usage for its first choice only
(engine.stats `usage_partial_calls`), so local-server figures undercount sampled paths.
"""

from __future__ import annotations

from pathlib import Path

FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")


def label_requests(model: str, requests: list, names: list[list[str]]) -> dict[str, list[str]]:
    """request key -> strategies it serves (the key the engine logs under: model, messages, params)."""
    from augmath.engine import request_key

    out: dict[str, list[str]] = {}
    for request, served in zip(requests, names):
        key = request_key(model, request.messages, request.params)
        out.setdefault(key, [])
        out[key] += [n for n in served if n not in out[key]]
    return out


def tokens_per_strategy(log_path: str | Path, labels: dict[str, list[str]]) -> dict[str, dict[str, float]]:
    """Sum the usage of every logged call whose request key is labelled, split evenly among its strategies."""
    from augmath.engine import read_log

    totals: dict[str, dict[str, float]] = {}
    seen: set[int] = set()
    for _sample, call in read_log(log_path).done.values():
        served = labels.get(call.get("request_key"))
        if not served or id(call) in seen:  # one call answers several samples (n > 1): count it once
            continue
        seen.add(id(call))
        usage = call.get("usage") or {}
        for name in served:
            row = totals.setdefault(name, dict.fromkeys(FIELDS, 0.0))
            for f in FIELDS:
                row[f] += int(usage.get(f) or 0) / len(served)
    return totals


def add_token_costs(strategies: dict[str, dict], tokens: dict[str, dict[str, float]]) -> None:
    """Write tokens and tokens_per_kept_row into report.json's per-strategy entries."""
    for name, entry in strategies.items():
        spent = {f: round(v) for f, v in tokens.get(name, dict.fromkeys(FIELDS, 0)).items()}
        entry["tokens"] = spent
        entry["tokens_per_kept_row"] = round(spent["total_tokens"] / entry["items"], 1) if entry["items"] else None
