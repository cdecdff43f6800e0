"""Bits per byte from a continuation's negative log-likelihood, without lighteval.

The arithmetic the likelihood metric (eval_tasks/likelihood.py, inside lighteval) and the results reader
(eval_tasks/results.py, after it) share.
Kept apart from the metric so that reading results imports no lighteval (its metrics package pulls in
scikit-learn and scipy: 5.5 s per evaluated model on this 2-core CPU, for one division).
"""

from __future__ import annotations

import math

METRICS = ("bpb", "nll_per_token", "nll", "tokens", "bytes")
LN2 = math.log(2)


def item_values(nll: float, tokens: int, nbytes: int) -> dict[str, float]:
    """The per-item metric values from the continuation's NLL (nats), its token count and the reference's bytes."""
    if nbytes <= 0 or tokens <= 0:
        raise ValueError(f"empty reference (bytes={nbytes}, tokens={tokens})")
    return {"bpb": nll / LN2 / nbytes, "nll_per_token": nll / tokens, "nll": nll, "tokens": tokens, "bytes": nbytes}
