"""Augmentation strategies: one module each, collected in REGISTRY (name -> Strategy).

A strategy turns a seed Record into a new query. It declares
- `name` (part of dataset config names, e.g. `gsm8k-reverse`) and the `sources` it applies to;
- how the query is made: `exact(seed, round)` (no LLM: numbers on GSM8K, reverse) and/or an LLM request
  built by `messages(seed, round)` whose output `parse(seed, text, round)` turns into a Query;
- how the answer is known and checked (`Query.gold_method`): "exact-chain" (correct by construction),
  "masked-number" / "seed-gold" (a known gold the sampled paths must match), or "majority" (no gold:
  majority vote over k sampled paths, see augmath.augment.verify);
- `template`: the prompt text; its hash (`prompt_hash`) goes into every row so data made with different
  prompts can be told apart.
Strategies never raise on bad model output: `parse` raises Reject(reason), which the augment stage counts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from augmath.sources import Record


class Reject(ValueError):
    """A seed or a model output this strategy cannot use; str(e) is the reason counted in the report."""


@dataclass
class Query:
    """A new question made from a seed, before (or without) sampled responses."""
    seed: Record
    strategy: str
    round: int  # query round, numbered from 0 (MuggleMath's D1 is round 0); seeds the strategy's choices
    question: str
    gold: str | None  # known answer, or None when a majority vote must decide it
    gold_method: str  # exact-chain | masked-number | seed-gold | majority
    generator: str  # "exact", or the model that wrote the query
    prompt_hash: str
    sampling: dict = field(default_factory=dict)  # the query-generation sampling parameters
    solution: str | None = None  # exact solution, or the generator's own (MATH evolution: one more vote)
    solution_trusted: bool = False  # True: correct by construction, needs no sampled paths
    variant: str | None = None  # tells apart several queries of one seed, strategy and round (imported data)


class Strategy:
    name: str = ""
    sources: tuple[str, ...] = ("gsm8k", "math")
    description: str = ""
    template: str = ""  # every prompt text the strategy uses, for the hash
    per_round: bool = True  # False: one query per seed whatever --rounds says (paths: the seed itself)

    @property
    def prompt_hash(self) -> str:
        return hashlib.sha256(f"{self.name}\n{self.template}".encode()).hexdigest()[:12]

    def applies(self, source: str) -> bool:
        return source in self.sources

    def needs_llm(self, source: str) -> bool:
        """Whether query generation needs a model for this source (paths may still be sampled)."""
        return True

    def exact(self, seed: Record, round_index: int) -> Query | None:
        """A query made without a model, or None when this strategy always asks a model. Raises Reject."""
        return None

    def messages(self, seed: Record, round_index: int) -> list[dict]:
        raise NotImplementedError

    def parse(self, seed: Record, text: str, round_index: int, model: str, sampling: dict) -> Query:
        raise NotImplementedError


def _load() -> dict[str, Strategy]:
    from augmath.augment.strategies import (combine, complexity, conditional, fraction, numbers, paths, rephrase,
                                    reverse, selfverify)

    modules = [numbers, fraction, combine, conditional, complexity, rephrase, reverse, selfverify, paths]
    return {m.STRATEGY.name: m.STRATEGY for m in modules}


REGISTRY: dict[str, Strategy] = _load()
EVOLUTION = ["numbers", "fraction", "combine", "conditional", "complexity"]  # MuggleMath's five


def get(names: str | list[str]) -> list[Strategy]:
    """Strategies by name ('numbers,reverse' or a list); unknown names raise with the valid ones."""
    wanted = [n.strip() for n in (names.split(",") if isinstance(names, str) else names) if n.strip()]
    unknown = [n for n in wanted if n not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown strategies {', '.join(unknown)}; valid: {', '.join(REGISTRY)}")
    return [REGISTRY[n] for n in wanted]
