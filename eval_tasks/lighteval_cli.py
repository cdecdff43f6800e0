"""lighteval's own command line, with only the backends `augmath eval` runs: accelerate, vllm and custom.

    python -m augmath.eval_tasks.lighteval_cli accelerate MODEL.yaml TASKS --custom-tasks augmath.eval_tasks ...

Why: `python -m lighteval` imports every backend's module before it parses its arguments, the inspect-ai
bridge, nanotron, sglang and the endpoint clients included: 8.5 s on this 2-core CPU for `--help` alone, paid by
every evaluated model. The commands below are lighteval's functions themselves (same options, same behaviour,
same log lines, `benchmarks/eval.py` reads them); only what is imported before they run differs. Each backend's
module is imported only when its command is the one asked for, and the process ends without the interpreter's
teardown (below).
"""

from __future__ import annotations

import importlib
import logging
import logging.config
import os
import sys

from augmath.eval_tasks import scorer, settings

COMMANDS = {  # command -> (lighteval module, function)
    "accelerate": ("lighteval.main_accelerate", "accelerate"),
    "vllm": ("lighteval.main_vllm", "vllm"),
    "custom": ("lighteval.main_custom", "custom"),
}

# lighteval's log line shape ([time] [LEVEL]: message (file:line)), without the terminal colours: it goes to a file
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,  # augmath's loggers (imported above) keep logging
    "formatters": {"plain": {"format": "[%(asctime)s] [%(levelname)8s]: %(message)s (%(filename)s:%(lineno)s)"}},
    "handlers": {"stream": {"class": "logging.StreamHandler", "formatter": "plain", "level": logging.INFO}},
    "root": {"handlers": ["stream"], "level": logging.INFO},
}


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        raise SystemExit(f"usage: python -m augmath.eval_tasks.lighteval_cli {{{','.join(COMMANDS)}}} ARGS... "
                         f"(got {argv[:1] or 'nothing'})")
    import typer

    logging.config.dictConfig(LOGGING)
    logging.captureWarnings(capture=True)
    module, function = COMMANDS[argv[0]]
    if argv[0] == "accelerate" and settings.current().get("scorer", "continuation") == "continuation":
        scorer.install()  # the output layer on the reference positions only (same numbers, less work)
    app = typer.Typer(pretty_exceptions_show_locals=False)
    app.command(name=argv[0])(getattr(importlib.import_module(module), function))
    app.command(name="-")(lambda: None)  # two commands: typer then keeps the command name in the arguments
    try:
        app(argv, prog_name="lighteval")  # standalone: usage errors printed as lighteval prints them
        code = 0
    except SystemExit as exc:  # what it always ends in, success included
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    # Leave without the interpreter's teardown (torch, datasets and accelerate exit hooks: 1.7 s here). Every
    # file lighteval writes is closed by then (results and details go through `with` blocks); our parent
    # reads them only after this process is gone.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
