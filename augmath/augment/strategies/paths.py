"""`paths`: response augmentation (RFT / MetaMath AnsAug): more reasoning paths for the seed question.

`paths`: response augmentation (RFT / MetaMath AnsAug). The seed question itself, answered by k reasoning
paths sampled at temperature T; a path is kept when its final answer matches the seed's gold, its GSM8K
<<a=b>> annotations all evaluate, and its list of equations differs from every path kept before
(RFT's dedup). The query is the seed, so no prompt of its own: the solver prompt (augmath.augment.verify) is used."""

from __future__ import annotations

from augmath.sources import Record
from augmath.augment.strategies import Query, Strategy


class Paths(Strategy):
    name = "paths"
    description = "k sampled reasoning paths per seed question, RFT-filtered against the seed's gold"
    template = "seed question; responses from augmath.augment.verify.SOLVER prompts"
    per_round = False

    def needs_llm(self, source: str) -> bool:
        return False  # no query generation; the paths themselves are sampled

    def exact(self, seed: Record, round_index: int) -> Query:
        return Query(seed, self.name, round_index, seed.question, seed.answer, "seed-gold", "seed", self.prompt_hash)


STRATEGY = Paths()
