"""The one user-error class: what a command raises when the user's input, option or environment is wrong.

`augmath.cli.main` prints it through `user_error` below (as do the `python -m` entry points of augmath.models
and augmath.training.sft): one line per line of the message, `augmath CMD: error: LINE`, with secrets masked
(`augmath.redaction.redact`), exit status 2. Commands never print their own `error:` lines, so the format
and the redaction cannot drift between them. Subclasses say which stage refused (DataError for bad files,
FolderBusy for a locked output, ConfigError for an experiment YAML, RecipeError for a training recipe, ...).
"""

from __future__ import annotations

import sys

from augmath.redaction import redact


class UserError(Exception):
    """Bad input, a bad option, a busy folder: the message (one or more lines) says what and where."""

    @property
    def lines(self) -> list[str]:
        return [line for line in str(self).splitlines() if line.strip()] or [type(self).__name__]


class OptionError(UserError):
    """A command-line option with a bad type, range or meaning, refused before any work starts."""


def user_error(command: str, error: BaseException, prog: str | None = None) -> int:
    """Print `augmath COMMAND: error: LINE` for each line of the error, secrets masked; the exit status, 2.
    The one place that formats a user error (augmath.errors): commands raise, they never print their own."""
    lines = error.lines if hasattr(error, "lines") else [line for line in str(error).splitlines() if line.strip()]
    for line in lines or [type(error).__name__]:
        print(f"{prog or 'augmath ' + command}: error: {redact(line)}", file=sys.stderr)
    return 2
