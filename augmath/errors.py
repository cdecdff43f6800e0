"""The one user-error class: what a command raises when the user's input, option or environment is wrong.

`augmath.cli.main` alone prints it: one line per line of the message, `augmath CMD: error: LINE`, with secrets
masked (`augmath.redaction.redact`), exit status 2. Commands never print their own `error:` lines, so the format
and the redaction cannot drift between them. Subclasses say which stage refused (DataError for bad files,
FolderBusy for a locked output, ConfigError for an experiment YAML, RecipeError for a training recipe, ...).
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input, a bad option, a busy folder: the message (one or more lines) says what and where."""

    @property
    def lines(self) -> list[str]:
        return [line for line in str(self).splitlines() if line.strip()] or [type(self).__name__]


class OptionError(UserError):
    """A command-line option with a bad type, range or meaning, refused before any work starts."""
