"""The `augmath` dispatcher: every subcommand resolves to a module with the stage contract."""

import importlib
import subprocess
import sys

import pytest

from augmath.cli import COMMANDS, main


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_subcommand_module_has_the_stage_contract(name):
    module = importlib.import_module(COMMANDS[name][0])
    assert callable(getattr(module, "add_arguments", None)), f"{module.__name__} lacks add_arguments"
    assert callable(getattr(module, "run", None)), f"{module.__name__} lacks run"


def test_help_lists_every_subcommand():
    out = subprocess.run([sys.executable, "-m", "augmath.cli", "--help"], capture_output=True, text=True, check=True)
    for name in COMMANDS:
        assert name in out.stdout


def test_unknown_subcommand_fails():
    with pytest.raises(SystemExit) as e:
        main(["frobnicate"])
    assert e.value.code == 2


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == "0.1.0"
