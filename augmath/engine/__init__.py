"""augmath.engine: sampling from any OpenAI-compatible endpoint, resumably, and the embedded server.

    Engine(base_url, model, concurrency, log_path).run([Request(messages, n, params, meta)]) -> [Completion]
    EmbeddedServer(): llama.cpp's llama-server on the packaged SmolLM2 GGUF (`augmath serve`)

Inside: engine (the async loop), calls (one call with retries; error classes), wire (the lean aiohttp client),
pool (several endpoints of one model), budget (token / USD caps), requestlog (the durable, resumable request
log), counters (usage, cost, the progress bar), batchfile (provider batch files), server (`augmath serve`),
cli (`augmath generate`).
"""

from augmath._lazy import lazy_face

__getattr__, __dir__, __all__ = lazy_face(__name__, {
    "Engine": "engine", "Request": "engine", "Completion": "engine", "validate_request": "engine",
    "RetryPolicy": "calls", "MalformedResponse": "calls", "call_with_retries": "calls", "classify": "calls",
    "describe": "calls",
    "RequestLog": "requestlog", "RequestLogError": "requestlog", "read_log": "requestlog", "now_iso": "requestlog",
    "request_key": "requestlog", "sample_key": "requestlog",
    "Budget": "budget", "EndpointPool": "pool", "parse_base_urls": "pool", "WireClient": "wire",
    "EmbeddedServer": "server", "ServerError": "server", "default_model_path": "server",
})
