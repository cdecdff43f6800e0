"""lighteval `custom` model that generates through an OpenAI-compatible endpoint (`augmath eval --backend endpoint`).

    python -m lighteval custom MODEL <this file> TASKS --custom-tasks augmath.eval_tasks
    (`augmath eval` builds that command and runs it through augmath.eval_tasks.lighteval_cli; its settings
     reach this model as the `endpoint` object of the settings file (augmath.eval_tasks.settings): {base_url,
     model, template, params, concurrency, timeout, log_path}; the API key stays in $OPENAI_API_KEY.)

The prompt is built by lighteval's own PromptManager, so it is the same text the accelerate backend feeds
the model:
- template "alpaca" (how augmath trains): the plain-text training prompt goes to /v1/completions unchanged.
  A chat endpoint would wrap it in the server's chat template, which the model was not trained on.
- template "chat": lighteval's chat messages go to /v1/chat/completions through augmath.engine (retries,
  `n` fallback, durable log). Cut-off answers (finish_reason "length") are graded too: the engine keeps them out
  of its outputs but records their text in the log, which is where we read them from.
Raw completions go through the engine's retry loop (augmath.engine.calls.call_with_retries), one call per sample,
its endpoint pool (several `--base-url`s: least-loaded first, a dead one taken out) and the engine's durable
request log (augmath.engine.requestlog, one fsync'd line per finished call): with
`augmath eval --resume`, answers a cut-off earlier run logged for the same model name, prompt and sampling
settings are reused and only the rest are requested.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

from lighteval.models.abstract_model import LightevalModel
from lighteval.models.model_output import ModelResponse
from lighteval.tasks.prompt_manager import PromptManager

from augmath.engine.calls import read_usage
from augmath.engine.pool import EndpointPool, parse_base_urls
from augmath.engine import MalformedResponse, RequestLog, RetryPolicy, call_with_retries, now_iso, request_key, sample_key
from augmath.eval_tasks import settings



class _NoCache:
    """lighteval's pipeline wires its answer cache into every model; this backend keeps none."""

    def _init_registry(self, registry) -> None:
        return None


def _settings() -> dict:
    endpoint = settings.current().get("endpoint")
    if not endpoint:
        raise RuntimeError(f"no endpoint settings (${settings.SETTINGS_ENV} names no file with an 'endpoint'): "
                           "run this backend through `augmath eval --backend endpoint`")
    return endpoint


def _read_completion(body: dict) -> tuple[list, dict | None]:
    """A /v1/completions JSON body -> ([its first choice], usage); MalformedResponse (retried) when it has none."""
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise MalformedResponse("no choices in the completion")
    text = choices[0].get("text")
    if text is not None and not isinstance(text, str):
        raise MalformedResponse(f"the completion's text is {type(text).__name__}, not a string")
    return [choices[0]], read_usage(body)


def _raise_first(results: list) -> list:
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


class OpenAIEndpointModel(LightevalModel):
    def __init__(self, config, *args, **kwargs):
        self.config = config
        self.settings = _settings()
        # The settings file holds the URL with its credentials masked; the real one comes by the environment
        # variable the file names (augmath.eval_tasks.settings), like the API key.
        env = self.settings.get("base_url_env")
        self.base_url = os.environ[env] if env else self.settings.get("base_url")
        self.template = self.settings.get("template", "alpaca")
        self.params = dict(self.settings.get("params") or {})
        self.prompt_manager = PromptManager(use_chat_template=False)
        self._cache = _NoCache()
        self.stats = {"requests": 0, "resumed": 0, "completion_tokens": 0, "length_cut": 0, "failed": 0,
                      "seconds": 0.0}

    # --- the LightevalModel interface (generation only: augmath's tasks are all generative) ---
    @property
    def tokenizer(self):
        return None

    @property
    def add_special_tokens(self) -> bool:
        return False

    @property
    def max_length(self) -> int:
        return 1 << 20  # the server enforces its own context size

    def loglikelihood(self, docs):
        raise NotImplementedError("the endpoint backend only runs generative tasks: an OpenAI-compatible server "
                                  "gives no prompt log-likelihoods; run the _bpb tasks with the accelerate or vllm "
                                  "backend")

    def loglikelihood_rolling(self, docs):
        raise NotImplementedError("the endpoint backend only runs generative tasks")

    def greedy_until(self, docs) -> list[ModelResponse]:
        started = time.monotonic()
        if self.template == "chat":
            texts = self._chat(docs)
        else:
            texts = asyncio.run(self._raw(docs))
        self.stats["seconds"] += time.monotonic() - started
        print(f"augmath endpoint backend: {json.dumps(self.stats)}", flush=True)
        return [ModelResponse(text=t, input=p) for t, p in texts]

    # --- helpers ---
    def _sampling(self, doc) -> dict:
        params = {"temperature": float(self.params.get("temperature", 0.0))}
        for name in ("top_p", "seed"):
            if self.params.get(name) is not None:
                params[name] = self.params[name]
        params["max_tokens"] = int(self.params.get("max_new_tokens") or doc.generation_size or 512)
        return params

    async def _raw(self, docs) -> list[tuple[list[str], str]]:
        log = RequestLog(self.settings["log_path"]).open()  # first: a locked or corrupt log fails before any call
        # One pool over every --base-url: each call goes to the least-loaded live endpoint, a dead one is
        # taken out and its call retried on another (augmath.engine.pool), as for the chat path.
        concurrency = int(self.settings.get("concurrency", 8))
        pool = EndpointPool(parse_base_urls(self.base_url), os.environ.get("OPENAI_API_KEY") or "sk-local-no-key",
                            float(self.settings.get("timeout", 600)), concurrency)
        slots = asyncio.Semaphore(concurrency)
        policy = RetryPolicy()
        try:
            async def one(doc):
                prompt = self.prompt_manager.prepare_prompt(doc)
                params = self._sampling(doc)
                if doc.stop_sequences:
                    params["stop"] = list(doc.stop_sequences)[:4]  # the OpenAI API takes at most 4
                samples = []
                for i in range(max(1, doc.num_samples)):
                    p = dict(params)
                    if "seed" in p and i:
                        p["seed"] = int(p["seed"]) + i  # distinct, deterministic seeds per sample
                    samples.append(self._complete(pool, slots, policy, log, prompt, p, i))
                return _raise_first(await asyncio.gather(*samples, return_exceptions=True)), prompt

            # Every request runs to its end even when one fails for good, so that each answer received is in
            # the log before the run fails (a --resume run then asks only for the rest).
            return _raise_first(await asyncio.gather(*(one(d) for d in docs), return_exceptions=True))
        finally:
            log.close()
            self.stats["endpoints"] = pool.summary()
            self.stats["retried_elsewhere"] = pool.retried_elsewhere
            await pool.close()

    async def _complete(self, pool, slots, policy: RetryPolicy, log: RequestLog, prompt: str, params: dict,
                        index: int) -> str:
        # Keyed like the engine's chat samples, with the raw prompt in place of the messages.
        model, messages = self.settings["model"], [{"prompt": prompt}]
        key = sample_key(model, messages, params, index)
        if key in log.loaded.done:
            self.stats["resumed"] += 1
            return log.sample(key).get("text") or ""  # the open log keeps offsets; the text is read back
        payload = {"model": model, "prompt": prompt, **params}
        result = await call_with_retries(lambda: pool.complete(payload),
                                         policy, slots, os.environ.get("OPENAI_API_KEY"), read=_read_completion)
        if result.error is not None:
            # An evaluation with silently missing answers would be wrong: fail the run, naming the cause.
            raise settings.child_failure(f"endpoint {self.settings['base_url']}: completion failed for good "
                                         f"({result.error})")
        choice = result.choices[0]
        self.stats["requests"] += 1
        self.stats["completion_tokens"] += int((result.usage or {}).get("completion_tokens") or 0)
        self.stats["length_cut"] += choice.get("finish_reason") == "length"
        text = choice.get("text") or ""
        # Logged (fsync'd) before it counts as answered: a run cut after this point keeps the answer.
        await log.append_async({
            "request_key": request_key(model, messages, params), "model": model, "params": params,
            "messages": messages, "meta": {}, "status": "ok", "reason": None, "attempts": result.attempts,
            "usage": result.usage, "latency_s": round(result.latency_s, 3), "time": now_iso(),
            "samples": [{"key": key, "index": index, "status": "ok", "reason": None, "text": text,
                         "finish_reason": choice.get("finish_reason")}],
        })
        return text

    def _chat(self, docs) -> list[tuple[list[str], str]]:
        from augmath.engine import Engine, Request
        from augmath.engine import read_log

        engine = Engine(base_url=self.base_url, model=self.settings["model"],
                        concurrency=int(self.settings.get("concurrency", 8)), log_path=self.settings["log_path"],
                        timeout=float(self.settings.get("timeout", 600)), progress=False)
        requests = []
        for i, doc in enumerate(docs):
            messages = self.prompt_manager_chat().prepare_prompt_api(doc)
            requests.append(Request(messages=messages, n=max(1, doc.num_samples), params=self._sampling(doc),
                                    meta={"doc": i}))
        engine.run(requests)
        if engine.failures:
            raise settings.child_failure(f"endpoint {self.settings['base_url']}: {len(engine.failures)} samples "
                                         f"failed (first: {next(iter(engine.failures.values()))})")
        done = read_log(self.settings["log_path"]).done
        out = []
        for request in requests:
            texts = []
            for index in range(request.n):
                sample, _ = done[sample_key(engine.model, request.messages, request.params, index)]
                self.stats["length_cut"] += sample.get("reason") == "length"
                texts.append(sample.get("text") or "")  # empty / cut-off answers are graded as they are
            out.append((texts, json.dumps(request.messages, ensure_ascii=False)))
        self.stats["requests"] += engine.stats.calls if hasattr(engine.stats, "calls") else len(requests)
        self.stats["endpoints"], self.stats["retried_elsewhere"] = engine.stats.endpoints, engine.stats.retried_elsewhere
        return out

    def prompt_manager_chat(self) -> PromptManager:
        return PromptManager(use_chat_template=True, tokenizer=None, system_prompt=self.config.system_prompt)
