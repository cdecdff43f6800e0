"""Counters, cost and the progress bar of one engine run, and the summary printed at its end."""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field


def _zero_usage() -> dict:
    return {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def add_usage(total: dict, usage: dict | None) -> None:
    if usage:
        for name in total:
            total[name] += int(usage.get(name) or 0)


def estimate_cost(usage: dict, model: str, prices: dict | None) -> float | None:
    """USD from a per-model table {model: {"input": $ per 1M prompt tokens, "output": $ per 1M completion}}."""
    if not prices or model not in prices:
        return None
    price = prices[model]
    return (usage["prompt_tokens"] * float(price.get("input", 0))
            + usage["completion_tokens"] * float(price.get("output", 0))) / 1e6


@dataclass
class RunStats:
    model: str = ""
    samples_wanted: int = 0       # distinct samples the input asks for
    samples_resumed: int = 0      # already done in the log before this run (not sent again)
    samples_ok: int = 0           # done, usable (this run)
    samples_rejected: Counter = field(default_factory=Counter)  # reason -> count (this run)
    samples_failed: Counter = field(default_factory=Counter)    # cause -> count (retry budget spent)
    calls: int = 0                # API calls that finished (success or final failure)
    attempts: int = 0             # HTTP attempts, retries included
    faults: Counter = field(default_factory=Counter)            # cause -> failed attempts
    n_fallbacks: int = 0          # calls where the server returned fewer choices than `n`
    usage_partial_calls: int = 0  # n>1 calls whose usage covers only the first choice (llama.cpp)
    usage: dict = field(default_factory=_zero_usage)            # this run
    usage_in_log: dict = field(default_factory=_zero_usage)     # everything the log holds (this run included)
    endpoints: list = field(default_factory=list)  # per endpoint: calls, failures, taken out / put back
    retried_elsewhere: int = 0  # failed attempts on an endpoint then taken out (retried on another)
    budget_stop: str | None = None  # the line saying where a budget stopped the run
    started: float = field(default_factory=time.monotonic)
    elapsed_s: float = 0.0

    def record_call(self, result, samples: list[dict]) -> None:
        self.calls += 1
        self.attempts += result.attempts
        add_usage(self.usage, result.usage)
        self.usage_partial_calls += bool(result.usage and result.usage.get("partial"))
        add_usage(self.usage_in_log, result.usage)
        for sample in samples:
            if sample["status"] == "ok":
                self.samples_ok += 1
            elif sample["status"] == "rejected":
                self.samples_rejected[sample["reason"]] += 1
            else:
                self.samples_failed[sample.get("cause") or "failed"] += 1

    @property
    def retries(self) -> int:
        return self.attempts - self.calls

    def summary(self, prices: dict | None = None) -> dict:
        elapsed = self.elapsed_s or (time.monotonic() - self.started)
        done = self.samples_ok + sum(self.samples_rejected.values())
        return {
            "model": self.model,
            "samples_wanted": self.samples_wanted,
            "samples_resumed": self.samples_resumed,
            "samples_ok": self.samples_ok,
            "samples_rejected": dict(self.samples_rejected),
            "samples_failed": dict(self.samples_failed),
            "calls": self.calls,
            "attempts": self.attempts,
            "retries": self.retries,
            "faults": dict(self.faults),
            "n_fallbacks": self.n_fallbacks,
            "usage": dict(self.usage),
            "usage_partial_calls": self.usage_partial_calls,
            "usage_in_log": dict(self.usage_in_log),
            "cost_usd": estimate_cost(self.usage, self.model, prices),
            "cost_usd_in_log": estimate_cost(self.usage_in_log, self.model, prices),
            "endpoints": self.endpoints,
            "retried_elsewhere": self.retried_elsewhere,
            "budget_stop": self.budget_stop,
            "elapsed_s": round(elapsed, 3),
            "samples_per_s": round(done / elapsed, 3) if elapsed > 0 else None,
            "completion_tokens_per_s": round(self.usage["completion_tokens"] / elapsed, 2) if elapsed > 0 else None,
        }

    def format_summary(self, prices: dict | None = None) -> str:
        s = self.summary(prices)
        rejected = ", ".join(f"{k} {v}" for k, v in sorted(s["samples_rejected"].items())) or "none"
        failed = ", ".join(f"{k} {v}" for k, v in sorted(s["samples_failed"].items())) or "none"
        faults = ", ".join(f"{k} {v}" for k, v in sorted(s["faults"].items())) or "none"
        cost = f", cost ${s['cost_usd']:.4f}" if s["cost_usd"] is not None else ""
        partial = (f" (undercounted: {s['usage_partial_calls']} n>1 calls report the first choice only)"
                   if s["usage_partial_calls"] else "")
        return (
            f"generate: {s['samples_ok']} ok, rejected: {rejected}; failed: {failed}; "
            f"{s['samples_resumed']} resumed from the log (not sent)\n"
            f"  {s['calls']} calls, {s['retries']} retries (faults: {faults}); n fallbacks {s['n_fallbacks']}\n"
            f"  tokens: {s['usage']['prompt_tokens']} prompt + {s['usage']['completion_tokens']} completion"
            f"{cost}{partial}; {s['elapsed_s']:.1f}s, {s['samples_per_s'] or 0:.2f} samples/s, "
            f"{s['completion_tokens_per_s'] or 0:.1f} tok/s"
        )


class Progress:
    """tqdm bar over samples: rate and ETA from tqdm, completion tokens / rejects / errors as postfix."""

    def __init__(self, total: int, enabled: bool, stats: RunStats):
        self.stats = stats
        self.bar = None
        if enabled and total > 0:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="sample", dynamic_ncols=True, file=sys.stderr, desc="generate")

    def update(self, samples: int) -> None:
        if self.bar is None:
            return
        self.bar.update(samples)
        self.refresh()

    def refresh(self) -> None:
        if self.bar is None:
            return
        self.bar.set_postfix(
            tok=self.stats.usage["completion_tokens"],
            rej=sum(self.stats.samples_rejected.values()),
            err=sum(self.stats.faults.values()),
            failed=sum(self.stats.samples_failed.values()),
            refresh=False,
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
