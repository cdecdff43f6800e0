"""Hostile options and inputs (#28), as one table: each row is a command line (and the files it makes) -> the
exit status and a substring of the one `augmath CMD: error: ...` line, and the row's outputs must not exist
afterwards (nothing created before the refusal: no run folder holding only run.json, no half-written file).

Options are checked while the command line is parsed (augmath.options, augmath.urls): type, range and
meaning, before a folder is made, a server starts or a connection opens. `pytest --reliability-table FILE`
writes the table (row, command, exit, what the line says) as Markdown for docs/reliability.md.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from augmath.cli import main

AUGMENT = ["augment", "--source", "gsm8k", "--strategies", "numbers", "--limit", "2", "--data-dir", "packaged",
           "--skip-decontam"]
URL_KEY = "HostilePassword99"


def _file(tmp: Path) -> Path:
    (tmp / "afile").write_text("not a folder\n", encoding="utf-8")
    return tmp / "afile"


def _control_char(tmp: Path) -> Path:
    (tmp / "in.jsonl").write_bytes(b'{"gold": "1", "prediction": "a\tb"}\n')  # json's message ends in "at"
    return tmp / "in.jsonl"


def _recipe(tmp: Path, output_dir: Path) -> Path:
    recipe = tmp / "recipe.yaml"
    recipe.write_text(f"model_name_or_path: tiny\ndataset: {tmp / 'ds'}\ndataset_config: gsm8k\n"
                      f"output_dir: {output_dir}\n", encoding="utf-8")
    return recipe


def _truncated_dataset(tmp: Path) -> Path:
    from build_fixtures import make_run

    from augmath.dataset_builders.build import build as build_dataset

    make_run(tmp / "runs" / "run-gsm8k", "gsm8k", ["reverse"], 4)
    build_dataset([tmp / "runs" / "run-gsm8k"], tmp / "ds", data_dir="packaged")
    parquet = tmp / "ds" / "data" / "gsm8k" / "train-00000-of-00001.parquet"
    parquet.write_bytes(parquet.read_bytes()[:300])
    return tmp / "ds"


class _Listening:
    """A port that is taken (a plain listening socket), for `serve --port` on a busy port."""

    def __enter__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        return self.sock.getsockname()[1]

    def __exit__(self, *exc):
        self.sock.close()


# (id, argv given tmp (and a busy port), exit status, substring of the error line, outputs that must not exist)
ROWS = [
    ("augment --base-url notaurl", lambda t, p: [*AUGMENT, "--base-url", "notaurl", "--out", str(t / "run")], 2,
     "argument --base-url: 'notaurl' is not an endpoint URL: it should start with http:// or https://", ["run"]),
    ("augment --base-url unreachable", lambda t, p: [*AUGMENT, "--base-url", "http://127.0.0.1:9/v1",
                                                     "--out", str(t / "run")], 2,
     "--base-url http://127.0.0.1:9/v1 is unreachable (Connection refused)", ["run"]),
    ("augment --base-url ftp://x y/v1", lambda t, p: [*AUGMENT, "--base-url", "ftp://x y/v1", "--out",
                                                      str(t / "run")], 2, "is not an endpoint URL: it contains white",
     ["run"]),
    ("augment --query-base-url https:///v1", lambda t, p: [*AUGMENT, "--query-base-url", "https:///v1", "--out",
                                                           str(t / "run")], 2, "it has no host", ["run"]),
    ("augment --base-url port 99999", lambda t, p: [*AUGMENT, "--base-url", "http://127.0.0.1:99999/v1", "--out",
                                                    str(t / "run")], 2, "has a port that is not a number", ["run"]),
    ("augment --concurrency 0", lambda t, p: [*AUGMENT, "--concurrency", "0", "--out", str(t / "run")], 2,
     "argument --concurrency: 0 is out of range (expected a value >= 1)", ["run"]),
    ("augment --paths 0", lambda t, p: [*AUGMENT, "--paths", "0", "--out", str(t / "run")], 2,
     "argument --paths: 0 is out of range (expected a value >= 1)", ["run"]),
    ("augment --paths -3", lambda t, p: [*AUGMENT, "--paths", "-3", "--out", str(t / "run")], 2,
     "argument --paths: -3 is out of range", ["run"]),
    ("augment --temperature -5", lambda t, p: [*AUGMENT, "--temperature", "-5", "--out", str(t / "run")], 2,
     "argument --temperature: -5 is out of range (expected a value >= 0 and <= 2)", ["run"]),
    ("augment --min-agreement 7", lambda t, p: [*AUGMENT, "--min-agreement", "7", "--out", str(t / "run")], 2,
     "argument --min-agreement: 7 is out of range (expected a value >= 0 and <= 1)", ["run"]),
    ("augment --limit -1", lambda t, p: [*AUGMENT, "--limit", "-1", "--out", str(t / "run")], 2,
     "argument --limit: -1 is out of range (expected a value >= 1)", ["run"]),
    ("augment --timeout nan", lambda t, p: [*AUGMENT, "--timeout", "nan", "--out", str(t / "run")], 2,
     "argument --timeout: nan is out of range (expected a value > 0)", ["run"]),
    ("augment --rounds two", lambda t, p: [*AUGMENT, "--rounds", "two", "--out", str(t / "run")], 2,
     "argument --rounds: 'two' is not an integer", ["run"]),
    ("augment --out a file", lambda t, p: [*AUGMENT, "--out", str(_file(t))], 2,
     "afile is a file; expected a folder", []),
    ("augment --out under a file", lambda t, p: [*AUGMENT, "--out", str(_file(t) / "run")], 2,
     "is under", []),
    ("import --out under a file", lambda t, p: ["import", str(_file(t)), "--format", "metamathqa", "--source",
                                                "gsm8k", "--out", str(t / "afile" / "run")], 2, "is under", []),
    ("serve --port 99999", lambda t, p: ["serve", "--port", "99999"], 2,
     "argument --port: 99999 is out of range (expected a value >= 1 and <= 65535)", []),
    ("serve on a busy port", lambda t, p: ["serve", "--port", str(p)], 2, "is already in use", []),
    ("serve --startup-timeout 0", lambda t, p: ["serve", "--startup-timeout", "0"], 2,
     "argument --startup-timeout: 0 is out of range (expected a value > 0)", []),
    ("generate --concurrency 0", lambda t, p: ["generate", str(_file(t)), "--out", str(t / "log.jsonl"),
                                               "--concurrency", "0"], 2, "argument --concurrency: 0 is out",
     ["log.jsonl"]),
    ("generate --base-url notaurl", lambda t, p: ["generate", str(_file(t)), "--out", str(t / "log.jsonl"),
                                                  "--base-url", "notaurl"], 2, "is not an endpoint URL",
     ["log.jsonl"]),
    ("eval --base-url credentials, unreachable",
     lambda t, p: ["eval", "--backend", "endpoint", "--base-url", f"http://u:{URL_KEY}@127.0.0.1:9/v1", "--tasks",
                   "gsm8k", "--out", str(t / "res"), "--data-dir", "packaged"], 2,
     "endpoint http://***@127.0.0.1:9/v1 is unreachable ([Errno 111] Connection refused)", ["res/results.json"]),
    ("eval --max-new-tokens 0", lambda t, p: ["eval", "--backend", "endpoint", "--tasks", "gsm8k", "--out",
                                              str(t / "res"), "--max-new-tokens", "0"], 2,
     "argument --max-new-tokens: 0 is out of range", ["res"]),
    ("eval --out a file", lambda t, p: ["eval", "--backend", "endpoint", "--tasks", "gsm8k", "--out",
                                        str(_file(t))], 2, "is a file; expected a folder", []),
    ("grade: a raw control character in a string", lambda t, p: ["grade", str(_control_char(t)), "--kind", "gsm8k"],
     2, "in.jsonl:1: invalid JSON (Invalid control character at column 31)", []),
    ("grade --workers 0", lambda t, p: ["grade", str(_file(t)), "--kind", "gsm8k", "--workers", "0"], 2,
     "argument --workers: 0 is out of range", []),
    ("decontaminate --ngram-threshold 2", lambda t, p: ["decontaminate", str(_file(t)), "--ngram-threshold", "2"],
     2, "argument --ngram-threshold: 2 is out of range (expected a value >= 0 and <= 1)", []),
    ("decontaminate --fuzzy-threshold 3", lambda t, p: ["decontaminate", str(_file(t)), "--fuzzy-threshold", "3"],
     2, "argument --fuzzy-threshold: 3 is out of range (expected a value >= 0 and <= 2.5)", []),
    ("fit --confidence 0", lambda t, p: ["fit", str(t), "--out", str(t / "fit"), "--confidence", "0"], 2,
     "argument --confidence: 0 is out of range (expected a value > 0 and <= 1)", ["fit"]),
    ("build --paths-per-query 0", lambda t, p: ["build", str(t), "--out", str(t / "ds"), "--paths-per-query", "0"],
     2, "argument --paths-per-query: 0 is out of range", ["ds"]),
    ("export --num-queries -2", lambda t, p: ["export", str(t), "--config", "gsm8k", "--format", "alpaca", "--out",
                                              str(t / "o.jsonl"), "--num-queries", "-2"], 2,
     "argument --num-queries: -2 is out of range", ["o.jsonl"]),
    ("export a truncated parquet", lambda t, p: ["export", str(_truncated_dataset(t)), "--config", "gsm8k",
                                                 "--format", "alpaca", "--out", str(t / "o.jsonl")], 2,
     "train-00000-of-00001.parquet", ["o.jsonl"]),
    ("data --data-dir a file", lambda t, p: ["data", "gsm8k", "--data-dir", str(_file(t))], 2,
     "afile is a file, not a folder (from --data-dir)", []),
    ("data --limit 0", lambda t, p: ["data", "gsm8k", "--limit", "0"], 2, "argument --limit: 0 is out of range", []),
    ("unknown option", lambda t, p: [*AUGMENT, "--out", str(t / "run"), "--frobnicate"], 2,
     "unrecognized arguments: --frobnicate (see augmath augment --help)", ["run"]),
    ("train --output_dir a file", lambda t, p: ["train", str(_recipe(t, _file(t)))], 2,
     "--output_dir", []),
    ("train --output_dir under a file", lambda t, p: ["train", str(_recipe(t, _file(t) / "model"))], 2,
     "is under", []),
    ("train unknown override", lambda t, p: ["train", str(_recipe(t, t / "model")), "--learning_rat", "1e-5"], 2,
     "command line: learning_rat: unknown key (did you mean 'learning_rate'?)", ["model"]),
    ("train --processes 0", lambda t, p: ["train", str(_recipe(t, t / "model")), "--processes", "0"], 2,
     "--processes '0' is not an integer >= 1", ["model"]),
]


@pytest.mark.parametrize("name,argv,code,says,absent", ROWS, ids=[r[0] for r in ROWS])
def test_a_hostile_option_or_input_is_one_line_and_nothing_is_written(name, argv, code, says, absent, tmp_path,
                                                                     capsys, reliability_table):
    with _Listening() as busy:
        args = argv(tmp_path, busy)
        capsys.readouterr()
        got = main(args)
    captured = capsys.readouterr()
    lines = [x for x in captured.err.splitlines() if x.strip()]
    command = args[0]
    assert got == code, lines
    assert len(lines) == 1 and re.match(rf"^augmath {command}: error: ", lines[0]), lines
    assert says in lines[0], lines
    assert "Traceback" not in captured.out + captured.err and URL_KEY not in captured.out + captured.err
    for rel in absent:
        assert not (tmp_path / rel).exists(), f"{rel} was created before the refusal"
    shown = lines[0].split(": error: ", 1)[1].replace(str(tmp_path), "TMP").replace(f" {busy}", " PORT")
    reliability_table.append((name, command, got, shown))


class _Refusing(BaseHTTPRequestHandler):
    """An endpoint behind HTTP Basic auth (the user-info of its URL) whose completions all answer 401, echoing
    the Authorization header as careless servers do: a fault injector, it serves no model."""

    password = ""

    def _send(self, code: int, doc: dict) -> None:
        body = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 - http.server's name
        expected = "Basic " + base64.b64encode(f"u:{self.password}".encode()).decode()
        if self.path.endswith("/models") and self.headers.get("Authorization") == expected:
            self._send(200, {"object": "list", "data": [{"id": "m", "object": "model"}]})
        else:
            self._send(401, {"error": {"message": "bad credentials"}})

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._send(401, {"error": {"message": f"invalid credentials {self.headers.get('Authorization')}"}})

    def log_message(self, *args):
        pass


@pytest.mark.slow
def test_endpoint_eval_with_url_credentials_reaches_the_endpoint_and_a_401_is_one_line(tmp_path, capsys,
                                                                                      reliability_table):
    """The models check sends the URL's user-info as Basic auth, as httpx does (it reached the endpoint only if
    the endpoint then sees completions); the completions' 401 is augmath's one line, not lighteval's traceback."""
    _Refusing.password = URL_KEY
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://u:{URL_KEY}@127.0.0.1:{server.server_address[1]}/v1"
        capsys.readouterr()
        code = main(["eval", "--backend", "endpoint", "--base-url", url, "--tasks", "gsm8k", "--max-samples", "2",
                     "--out", str(tmp_path / "res"), "--data-dir", "packaged"])
    finally:
        server.shutdown()
    captured = capsys.readouterr()
    # lighteval's own progress lines may come first (stderr is not --quiet); nothing of a traceback may
    lines = [x for x in captured.err.splitlines() if x.startswith("augmath ") or "Traceback" in x or "│" in x]
    assert code == 2, captured.err[-3000:]
    assert len(lines) == 1 and lines[0].startswith("augmath eval: error: endpoint http://***@127.0.0.1:"), lines
    assert "completion failed for good" in lines[0] and "401" in lines[0], lines
    assert "Traceback" not in captured.err and URL_KEY not in captured.out + captured.err
    assert not (tmp_path / "res" / "results.json").exists()
    kept = [p for p in tmp_path.rglob("*") if p.is_file() and URL_KEY.encode() in p.read_bytes()]
    assert kept == []  # httpx logs each request's URL: lighteval.log keeps it masked
    reliability_table.append(("eval endpoint answering 401 (URL with credentials)", "eval", code,
                              lines[0].split(": error: ", 1)[1].replace(str(tmp_path), "TMP")
                              .replace(f":{server.server_address[1]}/", ":PORT/")))
