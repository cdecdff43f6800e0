"""Session-wide test setup.

- The Hugging Face Hub is unreachable here and tests must never write into the user's cache: every test
  runs with HF_HUB_OFFLINE=1 and a throwaway HF_HOME (set at import, before anything imports the hub).
- `embedded_server`: ONE real llama-server (SmolLM2-135M-Instruct) for the whole session, shared by every
  test that needs an OpenAI-compatible endpoint. Use `embedded_server.base_url` / `embedded_server.model`.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_HF_HOME = tempfile.mkdtemp(prefix="augmath-test-hf-home-")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HOME"] = _HF_HOME
# Tests talk to local servers only; a real key in the environment must never be picked up by accident.
os.environ.pop("OPENAI_API_KEY", None)
os.environ.pop("OPENAI_BASE_URL", None)


def pytest_unconfigure(config):
    shutil.rmtree(_HF_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def embedded_server():
    """A running embedded llama-server, started once per test session and stopped at the end."""
    from augmath.engine.server import EmbeddedServer

    server = EmbeddedServer(parallel=8)
    server.start()
    try:
        yield server
    finally:
        server.close()


# --- `pytest --reliability-table FILE`: the hostile-input table of docs/reliability.md, from this run ---------

_TABLE_ROWS: list[tuple] = []
TABLE_BEGIN, TABLE_END = "<!-- hostile-inputs table: begin -->", "<!-- hostile-inputs table: end -->"


def pytest_addoption(parser):
    parser.addoption("--reliability-table", default=None, metavar="FILE",
                     help="write the rows of tests/reliability/test_hostile_inputs.py that passed, as a Markdown "
                          "table: the whole FILE, or only between its hostile-inputs markers (docs/reliability.md)")


@pytest.fixture
def reliability_table():
    """Rows (case, command, exit status, the error line) that a hostile-input test appends once it passed."""
    return _TABLE_ROWS


def pytest_sessionfinish(session, exitstatus):
    path = session.config.getoption("--reliability-table")
    if not path or not _TABLE_ROWS:
        return
    lines = ["| case | command | exit | the one line (`augmath CMD: error: ...`) |", "|---|---|---|---|"]
    for case, command, code, message in _TABLE_ROWS:
        cell = message.replace("|", "\\|")
        lines.append(f"| {case} | `{command}` | {code} | {cell} |")
    table = "\n".join(lines) + "\n"
    text = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
    if TABLE_BEGIN in text and TABLE_END in text:  # a document (docs/reliability.md): replace its table only
        head, rest = text.split(TABLE_BEGIN, 1)
        table = head + TABLE_BEGIN + "\n" + table + TABLE_END + rest.split(TABLE_END, 1)[1]
    with open(path, "w", encoding="utf-8") as f:
        f.write(table)
