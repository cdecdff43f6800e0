"""`augmath eval`: score a model on augmath's lighteval tasks and write a results folder.

    augmath eval --model outputs/models/run1 --tasks gsm8k,math500,svamp --out outputs/results/run1
    augmath eval --model embedded --tasks gsm8k --max-samples 50 --out /tmp/r          # SmolLM2, converted once
    augmath eval --backend endpoint --base-url http://127.0.0.1:8080/v1 --tasks gsm8k --out /tmp/r

Backends: `accelerate` (lighteval's transformers backend, `lighteval accelerate`), `vllm` (`lighteval vllm`;
needs vllm installed) and `endpoint` (any OpenAI-compatible server, e.g. `augmath serve`, vLLM, OpenAI: lighteval's
`custom` backend running augmath.eval_tasks.endpoint_model). lighteval runs in a child process with
`--custom-tasks augmath.eval_tasks`; the run's settings (tasks and their prepared data, template, generation size,
endpoint) reach it through one file, OUT/lighteval/settings.json (augmath.eval_tasks.settings). Its raw output
stays in OUT/lighteval/, and OUT/results.json + OUT/details/<task>.jsonl are written from it (results.py).

lighteval 0.13's offline traps, handled here (docs/evaluation.md has the details):
- importing its tiny_benchmarks task downloads tinyBenchmarks.pkl with no timeout -> an empty stand-in is
  placed in the installed package when missing;
- its answer cache lives at <cache_dir>/<model_name>/<hash of the settings>; with an absolute model path that is
  inside the model folder and ignores the weights, so a retrained checkpoint at the same path would be scored
  with the old answers. We point lighteval at a folder of symlinks named after a hash of the weights
  (cache/lighteval/<name>-<weights sha256>/model): new weights -> new folder -> no stale answers, and nothing is
  written into the model folder. Hub ids get a throwaway cache; `--no-cache` always does.
Bad input (unknown task, missing model, unreachable endpoint) fails before anything heavy is loaded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from augmath.errors import UserError
from augmath.evalsets import BENCHMARKS, EVAL_TASKS, benchmark_of, eval_task
from augmath.eval_tasks import data as eval_data
from augmath.eval_tasks import profiles
from augmath.eval_tasks import settings as eval_settings
from augmath.eval_tasks import warm
from augmath.eval_tasks.scorer import SCORERS
from augmath.eval_tasks.inputs import (EvalError, check_likelihood_request, check_profile, endpoint_models,
                                       generation_parameters, model_eos_token, parse_max_samples, parse_tasks,
                                       resolve_local_model)
from augmath.eval_tasks.record import reproduction_record
from augmath.eval_tasks.results import read_provenance, write_results_folder
from augmath.io import folder_lock, sha256_file
from augmath.options import NON_NEGATIVE, POSITIVE, SECONDS, TEMPERATURE, check_output_folder, number
from augmath.process import die_with_parent
from augmath.prompts import TEMPLATES
from augmath.redaction import redact, redact_url
from augmath.urls import parse_base_url_list, split_base_urls

BACKENDS = ("accelerate", "vllm", "endpoint")
TASKS_MODULE = "augmath.eval_tasks"  # lighteval --custom-tasks takes a module name
ENDPOINT_MODEL = "augmath.eval_tasks.endpoint_model"  # lighteval custom takes this module's file
LIGHTEVAL_CLI = "augmath.eval_tasks.lighteval_cli"  # lighteval's CLI importing only the backend it runs
URL_ENV = "AUGMATH_ENDPOINT_URL"  # the lighteval child's endpoint URL when it holds credentials
REQUESTS_LOG = "requests.jsonl"  # OUT/requests.jsonl: the endpoint backend's durable log (augmath.engine.requestlog)
# Files that decide what a checkpoint computes: weights, config, tokenizer, generation defaults.
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".json", ".model", ".txt", ".jinja")


# --------------------------------------------------------------------------------------- cache trap

def weights_sha256(folder: str | os.PathLike) -> str:
    """sha256 over the names and contents of the files that decide the model's outputs."""
    root = Path(folder)
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES):
        rel = path.relative_to(root)
        if rel.parts[0].startswith(".") or rel.name in ("augmath_train.json", "augmath_eval.json"):
            continue
        h.update(str(rel).encode() + b"\0")
        sha256_file(path, hasher=h)
        h.update(b"\0")
    return h.hexdigest()


def cache_root() -> Path:
    return Path(os.environ.get("AUGMATH_CACHE") or Path.home() / ".cache" / "augmath") / "lighteval"


def model_view(model_dir: str, root: Path, digest: str) -> Path:
    """A folder of symlinks to the model's top-level files, named after the weights' hash (see module doc)."""
    view = root / f"{Path(model_dir).name}-{digest[:16]}" / "model"
    view.mkdir(parents=True, exist_ok=True)
    entries = {entry.name: entry.resolve() for entry in Path(model_dir).iterdir()}
    for link in view.iterdir():
        # Same weights can live in another folder (a deleted earlier run, or a 0-lr step that left the base
        # model unchanged): links left from that folder may dangle, so they always follow this model.
        if link.is_symlink() and link.name not in entries:
            link.unlink()
    for name, target in entries.items():
        link = view / name
        if link.is_symlink() and Path(os.readlink(link)) == target:
            continue
        if link.exists() and not link.is_symlink():
            continue  # lighteval's own files (its answer cache lives beside the links)
        tmp = view / f".{name}.{os.getpid()}.tmp"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(target)
        os.replace(tmp, link)
    return view


def ensure_tiny_benchmarks_stub() -> None:
    """Place the empty tinyBenchmarks.pkl that stops lighteval's import-time download (offline trap 3)."""
    spec = importlib.util.find_spec("lighteval")
    if spec is None or not spec.submodule_search_locations:
        raise EvalError("lighteval is not installed (pip install lighteval==0.13.0)")
    path = Path(list(spec.submodule_search_locations)[0]) / "tasks" / "tasks" / "tinyBenchmarks.pkl"
    if not path.exists():
        try:
            path.touch()
        except OSError as e:
            print(f"augmath eval: warning: cannot create {path} ({e}); lighteval may try to download it",
                  file=sys.stderr)


# ------------------------------------------------------------------------------------------ the run

def task_string(names: list[str], fewshot: int, k: int) -> str:
    """lighteval's task list: `augmath_gsm8k@k=8|0` (maj@k applies to generative tasks only)."""
    at = f"@k={k}" if k > 1 else ""
    return ",".join(f"{eval_task(n).task}{'' if eval_task(n).likelihood else at}|{fewshot}" for n in names)


def run_lighteval(cmd: list[str], env: dict, log_path: Path, quiet: bool) -> None:
    """Run lighteval, teeing its output to log_path (and stderr unless quiet); EvalError on failure.

    The log is line-buffered: a run that is killed (a time limit, Ctrl-C) leaves every line lighteval printed,
    and `tail -f` shows progress as it happens."""
    relay = log_path.parent / "augmath-error.txt"  # augmath's own code in the child says why it gave up
    relay.unlink(missing_ok=True)
    env = {**env, eval_settings.ERROR_FILE_ENV: str(relay)}
    with open(log_path, "w", encoding="utf-8", buffering=1) as log:
        # forked from the experiment's warm lighteval when there is one (lighteval imported already), else afresh
        proc = warm.spawn(cmd, env, str(log_path.parent)) or subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
            cwd=log_path.parent, preexec_fn=die_with_parent)  # no orphan
        crashed = False
        for line in proc.stdout:
            line = redact(line)  # httpx logs every request's URL, credentials included: the log is kept
            log.write(line)
            crashed = crashed or "Traceback (most recent call last)" in line  # plain, or rich's boxed one
            if not quiet and not crashed:  # a traceback goes to the log only: the error below is one line
                sys.stderr.write(line)
        code = proc.wait()
    if code != 0:
        if relay.is_file():
            raise EvalError(f"{relay.read_text(encoding='utf-8').strip()} (full log: {log_path})")
        lines = [x for x in log_path.read_text(errors="replace").splitlines() if x.strip()]
        raise EvalError(f"lighteval exited with status {code}: {lines[-1].strip() if lines else 'no output'} "
                        f"(full log: {log_path})")


def evaluate(args) -> dict:
    names = parse_tasks(args.tasks)
    if args.backend not in BACKENDS:
        raise EvalError(f"unknown backend {args.backend!r}; valid: {', '.join(BACKENDS)}")
    likelihood = check_likelihood_request(names, args)
    if args.resume and args.backend != "endpoint":
        raise EvalError(f"--resume is for --backend endpoint (its request log); --backend {args.backend} "
                        "reuses answers through lighteval's own cache (keyed on the weights' hash)")
    if args.maj_k < 1 or args.fewshot < 0:
        raise EvalError("--maj-k must be >= 1, --fewshot >= 0")
    default_samples, task_samples = parse_max_samples(args.max_samples, names)
    params = generation_parameters(args)
    if args.maj_k > 1 and params["temperature"] == 0:
        raise EvalError("--maj-k > 1 needs sampling: pass --temperature > 0")
    check_profile(args, params)
    header: dict = {"backend": args.backend, "profile": args.profile}
    api_key = os.environ.get("OPENAI_API_KEY") or None
    if args.backend == "endpoint":
        base_url = args.base_url or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise EvalError("--backend endpoint needs --base-url URL (or OPENAI_BASE_URL), e.g. from `augmath serve`")
        try:
            urls = split_base_urls(parse_base_url_list(base_url))  # $OPENAI_BASE_URL is checked as --base-url is
        except argparse.ArgumentTypeError as e:
            raise EvalError(f"OPENAI_BASE_URL: {e}") from None
        # Every endpoint must answer now (a typo'd one would only show as failed calls later) and serve the model.
        served = {url: endpoint_models(url, api_key) for url in urls}
        first = served[urls[0]]
        model = args.model or (first[0] if first else None)
        if not model:
            raise EvalError(f"endpoint {redact_url(urls[0])} lists no models; pass --model NAME")
        for url in urls[1:]:
            if args.model is None and model not in served[url]:
                raise EvalError(f"endpoint {redact_url(url)} does not serve {model} (it lists "
                                f"{', '.join(served[url]) or 'no models'}); several --base-urls must serve one "
                                "model, or pass --model NAME")
        header.update(model=model, base_url=redact_url(base_url))
    else:
        if not args.model:
            raise EvalError(f"--backend {args.backend} needs --model PATH_OR_HUB_ID")
        model, is_local = resolve_local_model(args.model)
        if args.backend == "vllm":
            if importlib.util.find_spec("vllm") is None:
                raise EvalError("--backend vllm needs vllm installed (pip install vllm); or use accelerate/endpoint")
        # `embedded` / a .gguf were converted to a folder: name the run after it (it says which model it is)
        header.update(model=model if args.model == "embedded" or args.model.endswith(".gguf") else args.model,
                      model_path=model)
    eos = model_eos_token(model) if likelihood else None
    out = Path(args.out).resolve()  # lighteval runs in OUT/lighteval: every path it is given is absolute
    work = out / "lighteval"
    shutil.rmtree(work, ignore_errors=True)  # only this run's output may be collected
    work.mkdir(parents=True, exist_ok=True)

    prepared = {b: str(eval_data.prepare(b, data_dir=args.data_dir)) for b in dict.fromkeys(map(benchmark_of, names))}
    folders = {n: prepared[benchmark_of(n)] for n in names}  # gsm8k and gsm8k_bpb score the same items
    ensure_tiny_benchmarks_stub()
    child_settings = {"tasks": folders, "template": args.template, "max_new_tokens": args.max_new_tokens,
                      "eos_token": eos, "max_samples": task_samples or None, "profile": args.profile,
                      "scorer": args.scorer if likelihood and args.backend == "accelerate" else None}
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"  # stream lighteval's progress into the log as it happens
    env[eval_settings.SETTINGS_ENV] = str(work / "settings.json")
    common = [task_string(names, args.fewshot, args.maj_k), "--custom-tasks", TASKS_MODULE,
              "--output-dir", str(work), "--save-details"]
    if default_samples and not task_samples:
        common += ["--max-samples", str(default_samples)]
    throwaway = None
    settings = {"template": args.template, "fewshot": args.fewshot,
                "max_samples": task_samples or default_samples,
                "maj_k": args.maj_k, "generation": params, "max_new_tokens": args.max_new_tokens,
                "profile": args.profile,
                "generation_size": {n: profiles.generation_size(BENCHMARKS[n].kind, BENCHMARKS[n].max_new_tokens,
                                                                child_settings)
                                    for n in names if not eval_task(n).likelihood},
                "data": {n: eval_data.manifest(f) for n, f in folders.items()}}
    if likelihood:
        settings["eos_token"] = eos
        if args.backend == "accelerate":
            settings["scorer"] = args.scorer
    if args.backend == "endpoint":
        # The durable request log sits outside the wiped lighteval/ folder: --resume reuses its finished answers
        # (same model name, prompt and sampling settings); without --resume every run starts a fresh one.
        requests_log = out / REQUESTS_LOG
        if not args.resume:
            requests_log.unlink(missing_ok=True)
        settings["resume"] = bool(args.resume)
        secret_url = redact_url(base_url) != base_url  # credentials in the URL: by the environment, not the file
        if secret_url:
            env[URL_ENV] = base_url
        child_settings["endpoint"] = {
            "base_url": redact_url(base_url), "base_url_env": URL_ENV if secret_url else None,
            "model": model, "template": args.template, "params": params,
            "concurrency": args.concurrency, "timeout": args.request_timeout,
            "log_path": str(requests_log),
        }  # the API key stays in OPENAI_API_KEY: never in a file or on a command line
        model_file = importlib.util.find_spec(ENDPOINT_MODEL).origin  # lighteval custom loads a file by path
        cmd = [sys.executable, "-m", LIGHTEVAL_CLI, "custom", model, model_file] + common
    else:
        if is_local and not args.no_cache:
            digest = weights_sha256(model)
            lighteval_model = str(model_view(model, cache_root(), digest))
            settings["weights_sha256"] = digest
        elif is_local:
            throwaway = Path(tempfile.mkdtemp(prefix="augmath-eval-nocache-"))
            lighteval_model = str(model_view(model, throwaway, "nocache"))
        else:
            lighteval_model = model
            throwaway = Path(tempfile.mkdtemp(prefix="augmath-eval-nocache-"))
        model_parameters = model_config(args, lighteval_model, params, throwaway)
        if likelihood and args.backend == "vllm":
            model_parameters["pairwise_tokenization"] = True  # prompt and reference tokenized apart, as trained
        import yaml

        (work / "model.yaml").write_text(yaml.safe_dump({"model_parameters": model_parameters}), encoding="utf-8")
        cmd = [sys.executable, "-m", LIGHTEVAL_CLI, args.backend, str(work / "model.yaml")] + common
    settings["command"] = ["lighteval", *cmd[3:]]  # what `lighteval ...` by hand runs: the same commands
    eval_settings.write(work / "settings.json", **child_settings)
    try:
        run_lighteval(cmd, env, work / "lighteval.log", args.quiet)
    finally:
        if throwaway is not None:
            shutil.rmtree(throwaway, ignore_errors=True)
    provenance = read_provenance(model) if args.backend != "endpoint" else {}
    if args.backend != "endpoint":
        settings["model_parameters"] = {k: model_parameters.get(k) for k in ("device", "batch_size", "dtype")}
    weights = settings.get("weights_sha256") or (weights_sha256(model) if args.backend != "endpoint" and is_local
                                                 else None)
    header.update(
        provenance=provenance, settings=settings, tasks_module=TASKS_MODULE,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        reproduction=reproduction_record(args, header["model"], weights, {}, provenance),
    )
    results = write_results_folder(out, work, names, args.maj_k, header)
    if args.backend != "endpoint" and is_local and not args.no_card:
        from augmath.cards.model import add_eval_results, training_record

        if training_record(model):  # a folder `augmath train` wrote: its card carries its scores
            print(f"model card updated: {add_eval_results(model, results)}", file=sys.stderr)
    return results


def gpu_present() -> bool:
    """torch.cuda.is_available(), without importing torch (1.9 s here) on a machine with no GPU driver at all:
    no NVIDIA (/proc/driver/nvidia) or ROCm (/dev/kfd) driver means no device torch could use."""
    if not (Path("/proc/driver/nvidia").exists() or Path("/dev/kfd").exists()):
        return False
    import torch

    return torch.cuda.is_available()


def model_config(args, model_name: str, params: dict, cache_dir: Path | None) -> dict:
    device = args.device
    if device == "auto":
        device = "cuda" if gpu_present() else "cpu"
    cfg: dict = {"model_name": model_name, "generation_parameters": params,
                 # alpaca: plain text, the prompt the model was trained on; chat: the tokenizer's chat template
                 "override_chat_template": args.template == "chat"}
    if args.backend == "accelerate":
        cfg.update(device=device, batch_size=args.batch_size,
                   dtype=args.dtype or ("float32" if device == "cpu" else "bfloat16"))
    elif args.dtype:
        cfg["dtype"] = args.dtype
    if cache_dir is not None:
        cfg["cache_dir"] = str(cache_dir)
    return cfg


# ------------------------------------------------------------------------------------------- the CLI

def endpoint_url(value: str) -> str:
    """--base-url: http(s) URLs with a host, comma-separated (augmath.urls), or `embedded`."""
    return value if value == "embedded" else parse_base_url_list(value)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from augmath.sources import DATA_DIR_HELP  # a short, light module: help text only

    p.add_argument("--model", help="model folder, Hub id, a .gguf, or 'embedded' (SmolLM2-135M-Instruct); "
                                   "for --backend endpoint the served model name (default: the server's first)")
    p.add_argument("--tasks", required=True, help=f"comma-separated, from: {', '.join(EVAL_TASKS)} "
                                                  "(NAME_bpb: bits per byte of the reference solution, lower is better)")
    p.add_argument("--out", required=True, help="results folder to write (results.json, details/)")
    p.add_argument("--backend", default="accelerate", choices=BACKENDS)
    p.add_argument("--base-url", type=endpoint_url, default=None,
                   help="OpenAI-compatible base URL for --backend endpoint; several serving one model, "
                        "comma-separated, share the calls (least-loaded first, a dead one taken out) "
                                                    "(default $OPENAI_BASE_URL; 'embedded' starts augmath's own "
                                                    "server for the run); the key comes from $OPENAI_API_KEY")
    p.add_argument("--max-samples", default=None,
                   help="evaluate a fixed random subset of N per task; or per task, e.g. 24,math500_bpb=8")
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    p.add_argument("--fewshot", type=NON_NEGATIVE, default=0,
                   help="few-shot examples per prompt (default 0, as trained)")
    p.add_argument("--template", default="alpaca", choices=TEMPLATES,
                   help="prompt template (augmath.prompts; default alpaca; alpaca-input: the paper's Instruction/Input "
                        "split of multi-line queries, as its training code)")
    p.add_argument("--profile", default="lenient", choices=profiles.PROFILES,
                   help="lenient (default): augmath's extraction and generation sizes; paper: greedy, 256 new tokens "
                        "for word problems, official scoring (the number after '#### ' only, MATH the last \\boxed{})")
    p.add_argument("--maj-k", type=POSITIVE, default=1, help="also report maj@k over k sampled generations")
    p.add_argument("--temperature", type=TEMPERATURE, default=None, help="default 0 (greedy); 0.7 with --maj-k > 1")
    p.add_argument("--top-p", type=number(0, 1, low_open=True), default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--max-new-tokens", type=POSITIVE, default=None, help="override the tasks' generation sizes")
    p.add_argument("--batch-size", type=POSITIVE, default=8, help="accelerate backend batch size")
    p.add_argument("--device", default="auto", help="accelerate backend device: auto, cpu, cuda")
    p.add_argument("--dtype", default=None, help="default float32 on CPU, bfloat16 on GPU")
    p.add_argument("--scorer", default="continuation", choices=SCORERS,
                   help="accelerate backend, likelihood tasks: continuation (default): the output layer on the "
                        "reference positions only (augmath.eval_tasks.scorer; same numbers, less work); lighteval: "
                        "lighteval's own loop")
    p.add_argument("--concurrency", type=POSITIVE, default=8, help="endpoint backend: requests in flight")
    p.add_argument("--request-timeout", type=SECONDS, default=600.0, help="endpoint backend: seconds per request")
    p.add_argument("--no-cache", action="store_true", help="never reuse lighteval's cached answers")
    p.add_argument("--resume", action="store_true",
                   help="endpoint backend: reuse the answers a cut-off earlier run into the same --out logged in "
                        "OUT/requests.jsonl (same model name, prompts and settings); only the rest are requested")
    p.add_argument("--quiet", action="store_true", help="keep lighteval's output in OUT/lighteval/lighteval.log only")
    p.add_argument("--no-card", action="store_true",
                   help="leave the model folder untouched (by default the results go into the card and "
                        "augmath_eval.json of a folder written by `augmath train`)")


def evaluate_with_embedded_server(args) -> dict:
    """--base-url embedded: serve the model (the default SmolLM2 GGUF, or --model FILE.gguf) for this run only."""
    from augmath.engine import EmbeddedServer, ServerError

    gguf = args.model if args.model and args.model.endswith(".gguf") else None
    if args.model and not gguf:
        raise EvalError("--base-url embedded serves a GGUF: pass --model FILE.gguf or no --model (SmolLM2)")
    check_likelihood_request(parse_tasks(args.tasks), args)  # bad input fails before the server starts
    try:
        with EmbeddedServer(model_path=gguf, parallel=args.concurrency) as server:
            return evaluate(argparse.Namespace(**{**vars(args), "base_url": server.base_url, "model": server.model}))
    except ServerError as e:
        raise EvalError(f"embedded server: {e}") from None


def run(args: argparse.Namespace) -> int:
    check_output_folder(args.out)
    try:
        with folder_lock(args.out, "augmath eval"):  # one evaluation per results folder at a time
            if args.backend == "endpoint" and args.base_url == "embedded":
                results = evaluate_with_embedded_server(args)
            else:
                results = evaluate(args)
    except ValueError as e:  # a bad --tasks / --max-samples spec, or a value lighteval refused
        if isinstance(e, UserError):
            raise
        raise EvalError(str(e)) from None
    for name, t in results["tasks"].items():
        if t.get("metric") == "bpb":
            lo, hi = t["bpb_ci"]
            print(f"{name:12s} bits/byte {t['bpb']:.4f} [{lo:.4f}, {hi:.4f}]  nll/token {t['nll_per_token']:.4f}  "
                  f"(n={t['n']})")
            continue
        maj = f"  maj@{t['k']} {t['maj@k']:.4f}" if "k" in t else ""
        print(f"{name:12s} acc {t['accuracy']:.4f} ± {t['stderr']:.4f}  (n={t['n']}, {t['profile']} profile){maj}")
    print(f"results: {Path(args.out) / 'results.json'}")
    return 0
