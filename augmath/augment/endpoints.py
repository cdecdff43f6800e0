"""The two endpoints of an augment run: one writes the queries, the other samples the reasoning paths.

    --base-url URL --model M                      both roles (today's default: one endpoint)
    --query-base-url / --query-model              the query generator, overriding the above for queries
    --response-base-url / --response-model        the path sampler, overriding it for responses

A role with no URL at all is served by the embedded SmolLM2 server, started once for the run and shared by
both roles. A role's model name is sent as given (llama-server answers to any name, so one embedded server can
stand in for two "models" in tests); without one, the server's first listed model is used. Every engine
writes the same durable log RUN_DIR/requests.jsonl (the model name is part of every request key, so the two
roles never share a logged answer) and they run one after the other, never at once.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from augmath.urls import parse_base_url_list

ROLES = ("query", "response")


def add_endpoint_arguments(p) -> None:
    for role, what in (("query", "writes the new queries"), ("response", "samples the reasoning paths")):
        p.add_argument(f"--{role}-base-url", type=parse_base_url_list, default=None,
                       help=f"endpoint that {what} (default --base-url, else the embedded server)")
        p.add_argument(f"--{role}-model", default=None, help=f"model that {what} (default --model)")


def endpoint_of(args, role: str) -> tuple[str | None, str | None]:
    """(base URL, model name) of a role: its own flags, else the shared --base-url/--model."""
    return getattr(args, f"{role}_base_url", None) or args.base_url, getattr(args, f"{role}_model", None) or args.model


class Engines:
    """One Engine per role, made on first use (a run that needs no model starts nothing)."""

    def __init__(self, args, stack: contextlib.ExitStack, out: Path):
        self.args, self.stack, self.out = args, stack, out
        self._engines: dict[str, object] = {}
        self._server = None
        self.last = None  # the engine that ran last: its usage_in_log covers the whole log

    def get(self, role: str):
        if role not in self._engines:
            self._engines[role] = self._make(role)
        self.last = self._engines[role]
        return self.last

    def model(self, role: str) -> str | None:
        engine = self._engines.get(role)
        return engine.model if engine is not None else None

    def _make(self, role: str):
        from augmath.engine import Engine

        base_url, model = endpoint_of(self.args, role)
        if getattr(self.args, "batch", False) or getattr(self.args, "batch_file_only", None):
            from augmath.augment.batch import BatchEngine

            return BatchEngine(self.args, self.out, base_url, model)  # check_batch_arguments: model is set
        from augmath.engine.budget import budget_from_args

        common = dict(concurrency=self.args.concurrency, log_path=self.out / "requests.jsonl",
                      timeout=self.args.timeout, budget=budget_from_args(self.args))
        if base_url:
            return Engine(base_url=base_url, model=model, **common)
        server = self._embedded()
        return Engine(base_url=server.base_url, model=model or server.model, max_n=server.parallel, **common)

    def _embedded(self):
        if self._server is None:
            from augmath.engine import EmbeddedServer

            server = EmbeddedServer()
            print(f"augment: starting the embedded server ({server.model}) ...", file=sys.stderr)
            server.start()
            self.stack.callback(server.close)
            self._server = server
        return self._server
