"""A spending cap on a run: tokens, or dollars at given prices; the run stops before the call that would cross it.

    augmath generate IN --out LOG --budget-tokens 2000000
    augmath augment ... --budget-usd 40 --price-in 0.15 --price-out 0.60     (USD per 1M tokens)

What counts is everything the request log holds (earlier runs included: they were paid for), so the same
command with a raised budget goes on exactly where the last one stopped, and a lowered one sends nothing.
Before each call its worst case is reserved: n x max_tokens completion tokens (an exact cap; without
max_tokens, DEFAULT_COMPLETION) plus its prompt tokens, estimated (no tokenizer is at hand for a remote model):
the first call of a run goes alone and reserves a token per character of its JSON messages (more than any BPE
tokenizer and chat template use); after it, the highest tokens per character seen so far, +10%. A call is sent only if spent +
reserved by calls in flight + its own reservation stays within the cap; if not, it waits for the calls in
flight to settle (their real usage is usually far below the reservation) and is decided again. When nothing
is in flight and it still does not fit, the run stops: no further call is sent, the calls that finished are
in the log, and one line says where it stopped.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

DEFAULT_COMPLETION = 1024  # tokens reserved for a call that sets no max_tokens


@dataclass
class Budget:
    tokens: int | None = None       # cap on prompt + completion tokens
    usd: float | None = None        # cap on cost...
    price_in: float | None = None   # ...at USD per 1M prompt tokens
    price_out: float | None = None  # ...and per 1M completion tokens
    spent: dict = field(default_factory=lambda: {"prompt_tokens": 0, "completion_tokens": 0})

    def __post_init__(self):
        if self.tokens is not None and (not isinstance(self.tokens, int) or self.tokens <= 0):
            raise ValueError(f"--budget-tokens must be a positive integer, got {self.tokens!r}")
        if self.usd is not None and not self.usd > 0:
            raise ValueError(f"--budget-usd must be positive, got {self.usd!r}")
        for name in ("price_in", "price_out"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 0, got {value!r}")
        self._reserved = [0, 0]
        self._settled = asyncio.Event()
        self._per_char: float | None = None
        self._last_need = None

    @property
    def active(self) -> bool:
        return self.tokens is not None or self.usd is not None

    def resolve_prices(self, model: str, prices: dict | None) -> None:
        """--price-in/out, else the model's row of a prices table; --budget-usd without either is an error."""
        if self.usd is not None and (self.price_in is None or self.price_out is None):
            table = (prices or {}).get(model) or {}
            self.price_in = self.price_in if self.price_in is not None else table.get("input")
            self.price_out = self.price_out if self.price_out is not None else table.get("output")
            if self.price_in is None or self.price_out is None:
                raise ValueError(f"--budget-usd needs prices: give --price-in and --price-out (USD per 1M tokens) "
                                 f"or a --prices table with {model!r}")

    def start(self, usage_in_log: dict) -> None:
        """Take what the log already holds as spent (earlier runs were paid for)."""
        self.spent = {"prompt_tokens": int(usage_in_log.get("prompt_tokens") or 0),
                      "completion_tokens": int(usage_in_log.get("completion_tokens") or 0)}
        self._per_char: float | None = None  # prompt tokens per character of JSON messages, highest seen
        self._reserved = [0, 0]
        self._settled = asyncio.Event()
        self._last_need = None

    def cost(self, prompt: float, completion: float) -> float:
        return (prompt * (self.price_in or 0) + completion * (self.price_out or 0)) / 1e6

    def _chars(self, payload: dict) -> int:
        return len(json.dumps(payload.get("messages"), ensure_ascii=False))

    def estimate(self, payload: dict, n: int) -> tuple[int, int, int]:
        """(prompt, completion, prompt characters) reserved for a call: completion is its exact cap."""
        chars = self._chars(payload)
        if self._per_char is None:
            prompt = chars + 16  # nothing measured yet: a token per character of the JSON messages, and some
        else:
            prompt = int(self._per_char * chars * 1.1) + 8
        per_sample = payload.get("max_tokens") or payload.get("max_completion_tokens") or DEFAULT_COMPLETION
        return prompt, n * int(per_sample), chars

    def _fits(self, prompt: int, completion: int) -> bool:
        p = self.spent["prompt_tokens"] + self._reserved[0] + prompt
        c = self.spent["completion_tokens"] + self._reserved[1] + completion
        if self.tokens is not None and p + c > self.tokens:
            return False
        return self.usd is None or self.cost(p, c) <= self.usd

    async def reserve(self, payload: dict, n: int) -> tuple[int, int, int] | None:
        """The reservation for this call, or None: it does not fit even with nothing in flight (stop).
        Until one call of this run has measured tokens per prompt character, calls go one at a time."""
        while True:
            need = self.estimate(payload, n)
            idle = self._reserved == [0, 0]
            if (self._per_char is not None or idle) and self._fits(need[0], need[1]):
                break
            if idle:
                self._last_need = need
                return None
            self._settled.clear()
            await self._settled.wait()  # a call in flight finished: its real usage is known, decide again
        self._reserved = [self._reserved[0] + need[0], self._reserved[1] + need[1]]
        return need

    def settle(self, reservation: tuple[int, int, int], usage: dict | None) -> None:
        """A reserved call finished (or failed): replace its reservation by what it really used."""
        self._reserved = [self._reserved[0] - reservation[0], self._reserved[1] - reservation[1]]
        if usage:
            prompt = int(usage.get("prompt_tokens") or 0)
            self.spent["prompt_tokens"] += prompt
            self.spent["completion_tokens"] += int(usage.get("completion_tokens") or 0)
            self._per_char = max(self._per_char or 0.0, prompt / max(1, reservation[2]))
        self._settled.set()

    def stop_line(self, unsent: int, wanted: int) -> str:
        p, c = self.spent["prompt_tokens"], self.spent["completion_tokens"]
        need = self._last_need or (0, 0)
        if self.tokens is not None and p + c + sum(need) > self.tokens:
            where = (f"{p + c:,} of --budget-tokens {self.tokens:,} spent ({p:,} prompt + {c:,} completion); "
                     f"the next call would need up to {sum(need):,}")
            flag = "--budget-tokens"
        else:
            where = (f"${self.cost(p, c):.4f} of --budget-usd {self.usd:g} spent ({p:,} prompt + {c:,} completion "
                     f"tokens); the next call could cost up to ${self.cost(*need):.4f}")
            flag = "--budget-usd"
        return (f"budget reached: {where}; {unsent:,} of {wanted:,} samples not asked; "
                f"run again with a higher {flag} to go on from there")


def add_budget_arguments(parser) -> None:
    """--budget-tokens / --budget-usd / --price-in / --price-out (augmath generate and augmath augment)."""
    # the values are checked by Budget (budget_from_args), before any folder is touched
    parser.add_argument("--budget-tokens", type=int, default=None,
                        help="stop before the call that would take the log's prompt + completion tokens past this")
    parser.add_argument("--budget-usd", type=float, default=None,
                        help="stop before the call that would take the log's cost past this (needs prices)")
    parser.add_argument("--price-in", type=float, default=None,
                        help="USD per 1M prompt tokens (for --budget-usd and augment --plan)")
    parser.add_argument("--price-out", type=float, default=None,
                        help="USD per 1M completion tokens (for --budget-usd and augment --plan)")


def budget_from_args(args) -> Budget | None:
    """The Budget the flags ask for, None without one; a bad value is a ValueError naming the flag."""
    tokens, usd = getattr(args, "budget_tokens", None), getattr(args, "budget_usd", None)
    if tokens is None and usd is None:
        return None
    if usd is not None and None in (getattr(args, "price_in", None), getattr(args, "price_out", None)) \
            and not getattr(args, "prices", None):
        raise ValueError("--budget-usd needs prices: give --price-in and --price-out (USD per 1M tokens)")
    return Budget(tokens=tokens, usd=usd, price_in=getattr(args, "price_in", None),
                  price_out=getattr(args, "price_out", None))
