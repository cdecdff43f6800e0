"""The `augmath` command: a thin dispatcher. It parses arguments and calls the stage; no logic of its own.

Each subcommand lives in the module named below, which defines
    add_arguments(parser: argparse.ArgumentParser) -> None
    run(args: argparse.Namespace) -> int        # the exit status
Modules are imported only when their subcommand runs, so `augmath grade` never pays for torch or lighteval.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "data": ("augmath.sources", "load benchmarks into canonical records (prepare / inspect)"),
    "grade": ("augmath.grading.cli", "grade predictions against golds (GSM8K or MATH style)"),
    "serve": ("augmath.engine.server", "start the embedded OpenAI-compatible server"),
    "generate": ("augmath.engine.cli", "sample completions for a JSONL of requests, resumably"),
    "augment": ("augmath.augment.run", "augment GSM8K / MATH with MuggleMath strategies"),
    "import": ("augmath.augment.importer", "turn published data (MuggleMath, MetaMathQA, Alpaca) into a run folder"),
    "decontaminate": ("augmath.decontam.run", "flag rows that overlap the evaluation sets"),
    "build": ("augmath.dataset_builders.build", "build a Hub-ready dataset folder from run folders"),
    "export": ("augmath.dataset_builders.export", "write a dataset config as MuggleMath or Alpaca JSONL"),
    "push": ("augmath.publish.hub", "push a dataset / model / results folder to the Hub"),
    "train": ("augmath.training.launch", "train a model with augmath.training.sft under accelerate launch"),
    "eval": ("augmath.eval_tasks.run", "evaluate a model with augmath's lighteval tasks"),
    "reproduce": ("augmath.eval_tasks.reproduce", "re-run an evaluation from its results.json record; say what matches"),
    "transfer": ("augmath.analysis.transfer", "build the in-domain / cross-domain transfer matrix"),
    "fit": ("augmath.analysis.fit", "fit accuracy against the amount of augmented data"),
    "decide": ("augmath.analysis.decide", "decision accuracy of the small-scale proxy against large-scale accuracy"),
    "experiment": ("augmath.experiment.cli", "run a whole experiment from one YAML file"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="augmath", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] not in COMMANDS:
        args = parser.parse_args(argv)
        if args.version:
            from augmath import __version__

            print(__version__)
            return 0
        parser.print_help()
        return 0 if not argv else 2
    name, rest = argv[0], argv[1:]
    module_name, help_text = COMMANDS[name]
    module = importlib.import_module(module_name)
    sub = CommandParser(prog=f"augmath {name}", description=help_text)
    module.add_arguments(sub)
    from augmath.errors import UserError, user_error

    try:
        args = sub.parse_args(rest)
        return int(module.run(args) or 0)
    except (UserError, FileNotFoundError) as e:  # bad or missing input, a busy output: one line per problem
        return user_error(name, e)


class CommandParser(argparse.ArgumentParser):
    """A subcommand's parser: a bad option is an OptionError (one line from `user_error`, exit 2), not
    argparse's usage block followed by `augmath CMD: error: ...`. --help still prints the usage."""

    def error(self, message: str):
        from augmath.errors import OptionError

        raise OptionError(f"{message} (see augmath {self.prog.split()[-1]} --help)")


if __name__ == "__main__":
    sys.exit(main())
