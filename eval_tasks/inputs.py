"""The inputs of `augmath eval`, checked before anything heavy is loaded.

The task list and per-task sample sizes, what the likelihood tasks need (a backend with prompt
log-likelihoods, the training prompt, the model's end-of-sequence token), the model (a local folder, a GGUF,
`embedded`, or a Hub id), the endpoint's served models, and the generation settings of the evaluation profile.
Every problem is an EvalError with a message for the user.
"""

from __future__ import annotations

import base64
import json
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

from augmath.errors import UserError
from augmath.evalsets import EVAL_TASKS, LIKELIHOOD_SUFFIX, eval_task
from augmath.eval_tasks import profiles
from augmath.redaction import redact, redact_url, url_credentials
from augmath.urls import split_credentials


class EvalError(UserError, RuntimeError):
    """Bad input or a failed evaluation, with a message meant for the user."""


# ------------------------------------------------------------------------------------------- inputs

def parse_tasks(spec: str) -> list[str]:
    names = [t.strip() for t in spec.split(",") if t.strip()]
    if not names:
        raise EvalError(f"--tasks is empty; valid tasks: {', '.join(EVAL_TASKS)}")
    unknown = [t for t in names if t not in EVAL_TASKS]
    if len(unknown) == 1 and unknown[0].endswith(LIKELIHOOD_SUFFIX):
        try:
            eval_task(unknown[0])
        except ValueError as e:  # e.g. asdiv_bpb: a benchmark without a reference solution
            raise EvalError(str(e)) from None
    if unknown:
        raise EvalError(f"unknown task(s) {', '.join(map(repr, unknown))}; valid tasks: {', '.join(EVAL_TASKS)} "
                        "(NAME_bpb: bits per byte of the reference solution)")
    return list(dict.fromkeys(names))


def parse_max_samples(spec: str | int | None, names: list[str]) -> tuple[int | None, dict[str, int]]:
    """`--max-samples N` (every task), or per task `gsm8k_bpb=24,math500_bpb=8` (with an optional plain N for the
    rest: `24,math500_bpb=8`) -> (N, {task: K}). With per-task values every task gets its own limit (tasks with
    neither get all their items); the items are the ones `--max-samples K` picks (eval_tasks.data.sample_filter)."""
    if spec is None or spec == "":
        return None, {}
    default, per_task = None, {}
    for part in str(spec).split(","):
        part = part.strip()
        name, eq, value = part.rpartition("=") if "=" in part else ("", "", part)
        try:
            k = int(value)
        except ValueError:
            raise EvalError(f"--max-samples {spec!r}: {part!r} is not N or TASK=N") from None
        if k < 1:
            raise EvalError(f"--max-samples {spec!r}: every number must be >= 1")
        if not eq:
            default = k
        elif name.strip() not in names:
            raise EvalError(f"--max-samples {spec!r}: {name.strip()!r} is not one of this run's tasks ({', '.join(names)})")
        else:
            per_task[name.strip()] = k
    if per_task and default is not None:
        per_task = {n: per_task.get(n, default) for n in names}
    return default, per_task


def check_likelihood_request(names: list[str], args) -> list[str]:
    """The likelihood tasks among `names`; EvalError, before anything is loaded, where they cannot run."""
    likelihood = [n for n in names if eval_task(n).likelihood]
    if not likelihood:
        return []
    which = ", ".join(likelihood)
    if args.backend == "endpoint":
        raise EvalError(f"--backend endpoint cannot score {which}: an OpenAI-compatible server returns the "
                        "log-probabilities of tokens it generates, not of a given reference after the prompt "
                        "(prompt log-likelihoods); use --backend accelerate (transformers) or vllm")
    if args.template != "alpaca":
        raise EvalError(f"{which} score the Alpaca training prompt; --template {args.template} is not supported")
    if args.fewshot:
        raise EvalError(f"{which} are zero-shot (the prompt the model was trained on); drop --fewshot")
    return likelihood


TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "spiece.model")


def _configured_eos(folder: Path) -> str | None:
    """eos_token from a local tokenizer_config.json (a string, or an AddedToken dict), when there is a tokenizer
    file beside it; None to let transformers decide."""
    config = folder / "tokenizer_config.json"
    if not config.is_file() or not any((folder / f).is_file() for f in TOKENIZER_FILES):
        return None
    try:
        eos = json.loads(config.read_text(encoding="utf-8")).get("eos_token")
    except (OSError, ValueError):
        return None
    eos = eos.get("content") if isinstance(eos, dict) else eos
    return eos if isinstance(eos, str) and eos else None


def model_eos_token(model: str) -> str:
    """The end-of-sequence token the likelihood tasks append to the reference (training appends it to every
    response). A local folder's tokenizer_config.json answers without importing transformers (seconds per eval);
    otherwise the tokenizer is loaded: a model without a usable tokenizer fails here, before lighteval starts."""
    if Path(model).is_dir() and (eos := _configured_eos(Path(model))):
        return eos
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model)
    except Exception as e:  # missing files, unknown class, unreadable json: all mean lighteval could not tokenize
        reason = (str(e).strip().splitlines() or [""])[0][:160]
        raise EvalError(f"--model {model}: no usable tokenizer ({type(e).__name__}: {reason}); the likelihood "
                        "tasks tokenize prompt and reference with the model's own tokenizer") from None
    if not tokenizer.eos_token:
        raise EvalError(f"--model {model}: the tokenizer has no end-of-sequence token; the likelihood tasks score "
                        "reference + eos, as training appends it")
    return str(tokenizer.eos_token)


HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def resolve_local_model(model: str) -> tuple[str, bool]:
    """-> (model path or Hub id, is_local). A missing folder fails here, before lighteval loads anything."""
    if model == "embedded" or model.endswith(".gguf"):
        from augmath.models import resolve_model

        if model.endswith(".gguf") and not Path(model).is_file():
            raise EvalError(f"--model {model}: no such GGUF file")
        return resolve_model(model), True
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir() or not (path / "config.json").is_file():
            raise EvalError(f"--model {model}: not a model folder (no config.json)")
        return str(path.resolve()), True
    if not HUB_ID.match(model):
        raise EvalError(f"--model {model}: no such model folder")
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(model, "config.json"), str):
        return model, False
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise EvalError(f"--model {model}: no such model folder, and no cached Hub model of that id (offline)")
    from huggingface_hub import model_info

    try:
        model_info(model, timeout=15)
    except Exception as e:  # not found, gated, or no network: all mean lighteval could not load it either
        raise EvalError(f"--model {model}: no such model folder, and the Hub has no such model "
                        f"({type(e).__name__})") from None
    return model, False


def endpoint_models(base_url: str, api_key: str | None, timeout: float = 10.0) -> list[str]:
    """GET {base_url}/models: the served model ids. EvalError when the server cannot be reached."""
    # urllib would read the user-info of http://u:KEY@host/v1 as part of the host name; the openai client (httpx)
    # sends it as HTTP Basic auth instead, so this check does the same and reaches what the evaluation will.
    bare, user, password = split_credentials(base_url)
    req = urllib.request.Request(bare.rstrip("/") + "/models")
    if user is not None or password is not None:
        token = base64.b64encode(f"{user or ''}:{password or ''}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    elif api_key:
        req.add_header("Authorization", f"Bearer {api_key}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = json.loads(resp.read().decode() or "{}")
    except urllib.error.HTTPError as e:
        raise EvalError(f"endpoint {redact_url(base_url)} answered HTTP {e.code} to GET /models"
                        + (" (check OPENAI_API_KEY)" if e.code in (401, 403) else "")) from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        reason = redact(str(reason), *url_credentials(base_url))  # urllib may quote the URL's user-info back
        raise EvalError(f"endpoint {redact_url(base_url)} is unreachable ({reason}); start one with "
                        "`augmath serve` or pass --base-url") from None
    return [m.get("id") for m in body.get("data", []) if isinstance(m, dict) and m.get("id")]


def generation_parameters(args) -> dict:
    params = {"temperature": args.temperature if args.temperature is not None else (0.7 if args.maj_k > 1 else 0.0)}
    if args.top_p is not None:
        params["top_p"] = args.top_p
    if args.seed is not None:
        params["seed"] = args.seed
    return params


def check_profile(args, params: dict) -> None:
    """--profile paper fixes what the paper fixed: greedy decoding and its generation sizes."""
    if args.profile != "paper":
        return
    if args.max_new_tokens is not None:
        raise EvalError(f"--profile paper sets the generation size ({profiles.PAPER_MAX_NEW_TOKENS} new tokens for "
                        "word problems, as the paper's test.py); drop --max-new-tokens or use --profile lenient")
    if args.maj_k == 1 and params["temperature"] != 0:
        raise EvalError("--profile paper decodes greedily; drop --temperature (or use --maj-k K for sampled maj@k)")
