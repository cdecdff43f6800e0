"""One error path (#22): every command in augmath.cli.COMMANDS, given a bad input, exits 2 with only
`augmath CMD: error: ...` lines on stderr, no traceback, and a planted secret never in the output.

Each bad input carries a secret the message would echo: a file or folder whose name holds the value of
OPENAI_API_KEY / HF_TOKEN, or an endpoint URL with credentials (`http://user:KEY@127.0.0.1:9/v1`, a port nothing
listens on). The commands raise an augmath.errors.UserError subclass; augmath.cli.main alone prints it, redacted.
Most cases run in-process through `augmath.cli.main` (the console script's entry point); the two that start
a child process in real use (train under `accelerate launch`, eval's lighteval) and one option error also run
through `python -m augmath.cli` in a subprocess, to see exactly what a user's terminal gets.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from augmath.cli import COMMANDS, main

OPENAI_KEY = "sk-plantedOpenAIkey0123456789"
HF_KEY = "hf_plantedHubToken0123456789abcdef"
URL_KEY = "PlantedUrlPassword42"  # not key-shaped: only URL parsing can find it
DOWN_URL = f"http://user:{URL_KEY}@127.0.0.1:9/v1"  # port 9 (discard): nothing listens on loopback


def _bad_file(tmp: Path, suffix: str, text: str | None) -> Path:
    """A file (or, text=None, a missing path) whose name holds a secret the error message will name."""
    path = tmp / f"in-{OPENAI_KEY}-{HF_KEY}{suffix}"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    return path


# command -> (argv given a tmp folder, a substring of the one line); the set must be all of COMMANDS.
CASES = {
    "data": (lambda t: ["data", "gsm8k", "--data-dir", str(_bad_file(t, "", None))], "does not exist"),
    "grade": (lambda t: ["grade", str(_bad_file(t, ".jsonl", '{"gold": "1", "pred\n')), "--kind", "gsm8k"],
              "invalid JSON"),
    "serve": (lambda t: ["serve", "--model", str(_bad_file(t, ".gguf", None))], "model file not found"),
    "generate": (lambda t: ["generate", str(_bad_file(t, ".jsonl", '{"n": 2}\n')), "--out", str(t / "log.jsonl"),
                            "--base-url", DOWN_URL], "messages"),
    "augment": (lambda t: ["augment", "--source", "gsm8k", "--strategies", "numbers", "--limit", "2",
                           "--data-dir", "packaged", "--skip-decontam", "--base-url", DOWN_URL,
                           "--out", str(t / "run")], "is unreachable"),
    "import": (lambda t: ["import", str(_bad_file(t, ".jsonl", "[1,\n")), "--format", "metamathqa",
                          "--source", "gsm8k", "--out", str(t / "run"), "--data-dir", "packaged"], "invalid JSON"),
    "decontaminate": (lambda t: ["decontaminate", str(_bad_file(t, ".jsonl", None))], "does not exist"),
    "build": (lambda t: ["build", str(_bad_file(t, "", None)), "--out", str(t / "ds"), "--data-dir", "packaged"],
              ""),
    "export": (lambda t: ["export", str(_bad_file(t, "", None)), "--config", "gsm8k", "--format", "alpaca",
                          "--out", str(t / "out.jsonl")], "cannot read dataset"),
    "push": (lambda t: ["push", str(_bad_file(t, "", None)), "--repo-id", "augmath-test/x", "--dry-run"], ""),
    "train": (lambda t: ["train", str(_bad_file(t, ".yaml", "learning_rate: [1e-5\n"))], "invalid YAML"),
    "eval": (lambda t: ["eval", "--backend", "endpoint", "--base-url", DOWN_URL, "--tasks", "gsm8k",
                        "--out", str(t / "res"), "--data-dir", "packaged"], "is unreachable"),
    "transfer": (lambda t: ["transfer", str(_bad_file(t, "", None)), "--out", str(t / "tr")], ""),
    "fit": (lambda t: ["fit", str(_bad_file(t, "", None)), "--out", str(t / "fit")], ""),
    "decide": (lambda t: ["decide", str(_bad_file(t, "", None)), "--against", str(t)], ""),
    "reproduce": (lambda t: ["reproduce", str(_bad_file(t, "", None))], "no results.json"),
    "experiment": (lambda t: ["experiment", str(_bad_file(t, ".yaml", "name: [x\n"))], "invalid YAML"),
}
SECRETS = (OPENAI_KEY, HF_KEY, URL_KEY)


@pytest.fixture
def planted(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("HF_TOKEN", HF_KEY)


def _check(command: str, code: int, out: str, err: str, says: str) -> None:
    assert code == 2, (code, err)
    lines = [x for x in err.splitlines() if x.strip()]
    assert lines, "no error line"
    prefix = re.compile(rf"^augmath {re.escape(command)}: error: ")
    assert all(prefix.match(x) for x in lines), lines
    assert says in err, lines
    assert "Traceback" not in out + err
    for secret in SECRETS:
        assert secret not in out + err, f"{secret} leaked: {lines}"


def test_the_table_covers_every_command():
    assert set(CASES) == set(COMMANDS)


@pytest.mark.parametrize("command", sorted(CASES))
def test_a_bad_input_is_one_redacted_error_line_of_the_command(command, tmp_path, planted, capsys):
    argv, says = CASES[command]
    argv = argv(tmp_path)
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    _check(command, code, captured.out, captured.err, says)


@pytest.mark.parametrize("argv,command,says", [
    (lambda t: CASES["train"][0](t), "train", "invalid YAML"),
    (lambda t: CASES["augment"][0](t), "augment", "is unreachable"),
    (lambda t: ["augment", "--source", "gsm8k", "--out", str(t / "run"), "--concurrency", "0"], "augment",
     "argument --concurrency: 0 is out of range (expected a value >= 1)"),
], ids=["train", "augment-unreachable", "augment-option"])
def test_the_console_script_prints_the_same_single_lines(argv, command, says, tmp_path):
    env = {**os.environ, "OPENAI_API_KEY": OPENAI_KEY, "HF_TOKEN": HF_KEY}
    proc = subprocess.run([sys.executable, "-m", "augmath.cli", *argv(tmp_path)], capture_output=True, text=True,
                          env=env, timeout=300)
    _check(command, proc.returncode, proc.stdout, proc.stderr, says)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow  # accelerate launch + torch start-up: ~50 s on a loaded 2-core machine
def test_a_user_error_inside_the_training_child_is_relayed_as_one_train_line(tmp_path, planted, capsys):
    """sft.py runs under `accelerate launch`, which turns its exit status into 1 and prints nothing useful: its
    user error (here a base model folder that does not exist, found only once the child loads it) comes back
    through launch.py's relay file as `augmath train: error: ...`, exit 2."""
    from build_fixtures import make_run

    from augmath.dataset_builders.build import build as build_dataset

    make_run(tmp_path / "runs" / "run-gsm8k", "gsm8k", ["reverse"], 4)
    build_dataset([tmp_path / "runs" / "run-gsm8k"], tmp_path / "ds", data_dir="packaged")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"model_name_or_path: {tmp_path / ('base-' + OPENAI_KEY)}\ndataset: {tmp_path / 'ds'}\n"
                      f"dataset_config: gsm8k\noutput_dir: {tmp_path / 'model'}\nmax_steps: 1\n", encoding="utf-8")
    capsys.readouterr()
    code = main(["train", str(recipe)])
    captured = capsys.readouterr()
    err = "\n".join(x for x in captured.err.splitlines() if "error" in x)
    _check("train", code, "", err, "base-***")
    assert "error: " not in captured.err.replace("augmath train: error: ", "")  # the child printed no bare line
