"""Bad input, as a table: every command that reads a user's file x {malformed, missing field, wrong type, not
UTF-8, empty, truncated compressed file}. Each case must exit 2 with one line per problem that names the file
(and the line where there is one), and write nothing: the folder holding the inputs and outputs is unchanged.

Commands run in-process through `augmath.cli.main`, the same entry point as the console script. The inputs are
real: the packaged GSM8K/MATH samples, the real GSM8K train file, run folders shaped like `augmath augment`
writes them, a dataset folder from `augmath build`, results folders shaped like `augmath eval` writes them.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path

import pytest
from analysis_fixtures import trained, write_results
from build_fixtures import make_run

from augmath.cli import main

BAD_BYTE = b"\xff\xfe"
ROW = b'{"gold": "18", "prediction": "She sells 9 eggs, so #### 18"}\n'
REQUEST = b'{"messages": [{"role": "user", "content": "What is 2+2?"}], "n": 1}\n'


def _lines(path: Path, lines: list[bytes], gz: bool = False) -> Path:
    data = b"".join(lines)
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def _truncated_gz(path: Path, lines: list[bytes]) -> Path:
    data = gzip.compress(b"".join(lines) * 20, mtime=0)
    path.write_bytes(data[: len(data) // 2])
    return path


# ------------------------------------------------------------------ per command: (argv, file named, line named)

def grade(tmp: Path, fault: str):
    inp = tmp / ("in.jsonl.gz" if fault == "truncated" else "in.jsonl")
    lines = {"malformed": [ROW, b'{"gold": "2", "predic\n'], "missing field": [ROW, b'{"gold": "3"}\n'],
             "wrong type": [ROW, b'{"gold": ["3"], "prediction": "3"}\n'],
             "not UTF-8": [ROW, b'{"gold": "3", "prediction": "' + BAD_BYTE + b'"}\n'], "empty": []}
    if fault == "truncated":
        _truncated_gz(inp, [ROW])
    else:
        _lines(inp, lines[fault])
    return ["grade", str(inp), "--kind", "gsm8k", "--out", str(tmp / "out.jsonl")], inp, None if fault in (
        "empty", "truncated") else 2


def generate(tmp: Path, fault: str):
    inp = tmp / ("requests.jsonl.gz" if fault == "truncated" else "requests.jsonl")
    lines = {"malformed": [REQUEST, b'{"messages": [\n'],
             "missing field": [REQUEST, b'{"n": 2}\n'],
             "wrong type": [REQUEST, b'{"messages": [{"role": "user", "content": 42}]}\n'],
             "wrong param type": [REQUEST, REQUEST.replace(b'"n": 1', b'"params": {"temperature": "hot"}')],
             "n out of bounds": [REQUEST, REQUEST.replace(b'"n": 1', b'"n": 100000')],
             "not UTF-8": [REQUEST, REQUEST.replace(b"2+2", BAD_BYTE)], "empty": []}
    if fault == "truncated":
        _truncated_gz(inp, [REQUEST])
    else:
        _lines(inp, lines[fault])
    argv = ["generate", str(inp), "--out", str(tmp / "log.jsonl"), "--base-url", "http://127.0.0.1:9/v1"]
    return argv, inp, None if fault in ("empty", "truncated") else 2


def augment(tmp: Path, fault: str):
    """--data-dir with a broken copy of the real GSM8K train file (7,473 rows; line 5 is the bad one)."""
    real = Path(os.environ["AUGMATH_DATA_DIR"]) / "gsm8k" / "train.jsonl.gz"
    lines = gzip.decompress(real.read_bytes()).splitlines(keepends=True)
    row = json.loads(lines[4])
    bad = {"malformed": lines[4][:40] + b"\n",
           "missing field": json.dumps({"question": row["question"]}).encode() + b"\n",
           "wrong type": json.dumps({**row, "question": 5}).encode() + b"\n",
           "not UTF-8": lines[4].replace(b"Weng", BAD_BYTE, 1) if b"Weng" in lines[4] else BAD_BYTE + lines[4]}
    inp = tmp / "data" / "gsm8k" / "train.jsonl.gz"
    inp.parent.mkdir(parents=True)
    if fault == "truncated":
        data = real.read_bytes()
        inp.write_bytes(data[: len(data) // 2])
    else:
        _lines(inp, [] if fault == "empty" else lines[:4] + [bad[fault]] + lines[5:], gz=True)
    argv = ["augment", "--source", "gsm8k", "--strategies", "numbers", "--no-llm", "--skip-decontam",
            "--data-dir", str(tmp / "data"), "--out", str(tmp / "run")]
    return argv, inp, None if fault in ("empty", "truncated") else 5


def build(tmp: Path, fault: str):
    run = tmp / "run-gsm8k"
    make_run(run, "gsm8k", ["reverse"], 4)
    items = run / "items.jsonl"
    lines = items.read_bytes().splitlines(keepends=True)
    row = json.loads(lines[2])
    bad = {"malformed": lines[2][:30] + b"\n",
           "missing field": json.dumps({k: v for k, v in row.items() if k != "response"}).encode() + b"\n",
           "wrong type": json.dumps({**row, "path_index": "first"}).encode() + b"\n",
           "not UTF-8": lines[2].replace(b"x", BAD_BYTE, 1)}
    if fault == "run.json malformed":
        (run / "run.json").write_text('{"source": "gsm8k",\n', encoding="utf-8")
        return ["build", str(run), "--out", str(tmp / "ds"), "--data-dir", "packaged"], run / "run.json", 2
    _lines(items, [] if fault == "empty" else lines[:2] + [bad[fault]] + lines[3:])
    argv = ["build", str(run), "--out", str(tmp / "ds"), "--data-dir", "packaged"]
    return argv, items, None if fault == "empty" else 3


def train(tmp: Path, fault: str):
    """A recipe file with the fault, or (truncated) a dataset folder from `augmath build` with a cut parquet."""
    from augmath.dataset_builders.build import build as build_dataset

    recipe = tmp / "recipe.yaml"
    good = (f"model_name_or_path: {tmp / 'base'}\ndataset: {tmp / 'ds'}\ndataset_config: gsm8k\n"
            f"output_dir: {tmp / 'model'}\n").encode()
    text = {"malformed": good + b"learning_rate: [1e-5\n", "missing field": b"learning_rate: 1.0e-5\n",
            "wrong type": good + b"num_train_epochs: three\n", "not UTF-8": good + b"run_name: " + BAD_BYTE + b"\n",
            "empty": b"", "truncated": good}[fault]
    recipe.write_bytes(text)
    named, line = recipe, {"malformed": 6, "not UTF-8": 5}.get(fault)  # YAML sees the open list at the end
    if fault == "truncated":
        make_run(tmp / "runs" / "run-gsm8k", "gsm8k", ["reverse"], 4)
        build_dataset([tmp / "runs" / "run-gsm8k"], tmp / "ds", data_dir="packaged")
        named = tmp / "ds" / "data" / "gsm8k" / "train-00000-of-00001.parquet"
        named.write_bytes(named.read_bytes()[:300])
    return ["train", str(recipe)], named, line


def _results(tmp: Path, fault: str) -> tuple[Path, int | None]:
    res = write_results(tmp / "res", accuracies={"gsm8k": 0.5}, provenance=trained("gsm8k", 8, "gsm8k", None))
    path = res / "results.json"
    doc = json.loads(path.read_text())
    text = {"malformed": json.dumps(doc, indent=2)[:-40].encode(),
            "missing field": json.dumps({k: v for k, v in doc.items() if k != "tasks"}).encode(),
            "wrong type": json.dumps({**doc, "tasks": {"gsm8k": {**doc["tasks"]["gsm8k"], "n": "ten"}}}).encode(),
            "not UTF-8": json.dumps(doc, indent=2).encode().replace(b'"gsm8k"', b'"gsm8k' + BAD_BYTE + b'"', 1),
            "empty": b""}[fault]
    path.write_bytes(text)
    line = {"empty": 1, "malformed": text.count(b"\n") + 1, "not UTF-8": 5}.get(fault)  # 5: the first "gsm8k"
    return path, line


def fit(tmp: Path, fault: str):
    path, line = _results(tmp, fault)
    return ["fit", str(path.parent), "--out", str(tmp / "fit")], path, line


def transfer(tmp: Path, fault: str):
    path, line = _results(tmp, fault)
    return ["transfer", str(path.parent), "--out", str(tmp / "transfer")], path, line


def experiment(tmp: Path, fault: str):
    config = tmp / "study.yaml"
    good = (f"name: study\nworkdir: {tmp / 'work'}\ndata_dir: packaged\n"
            "augment:\n  - {source: gsm8k, strategies: [numbers], limit: 4, no_llm: true}\n"
            "base_models: [tiny]\ntrain:\n  recipe: cpu_tiny\n  runs: [{config: gsm8k, amounts: [4]}]\n")
    text = {"malformed": good.replace("  - {source", "  - {source: [").encode(),
            "missing field": good.replace("strategies: [numbers], ", "").encode(),
            "wrong type": good.replace("limit: 4", 'limit: "ten"').encode(),
            "unknown key": good.replace("no_llm", "no_lm").encode(),
            "missing recipe": good.replace("recipe: cpu_tiny", "recipe: cpu_tinyy").encode(),
            "not UTF-8": good.encode().replace(b"name: study", b"name: study" + BAD_BYTE), "empty": b""}[fault]
    config.write_bytes(text)
    return ["experiment", str(config)], config, {"malformed": 5, "not UTF-8": 1}.get(fault)


def push(tmp: Path, fault: str):
    folder = tmp / "ds"
    folder.mkdir()
    text = {"malformed": b'{"kind": "dataset",\n "version": \n', "not UTF-8": b'{"kind": "dataset' + BAD_BYTE + b'"}\n',
            "empty": b""}[fault]
    (folder / "manifest.json").write_bytes(text)
    return ["push", str(folder), "--repo-id", "augmath-test/x", "--dry-run"], folder / "manifest.json", {
        "malformed": 3, "not UTF-8": 1, "empty": 1}[fault]


STANDARD = ["malformed", "missing field", "wrong type", "not UTF-8", "empty"]
CASES = (
    [(grade, f, 1) for f in STANDARD + ["truncated"]]
    + [(generate, f, 1) for f in STANDARD + ["wrong param type", "n out of bounds", "truncated"]]
    + [(augment, f, 1) for f in STANDARD + ["truncated"]]
    + [(build, f, 1) for f in STANDARD + ["run.json malformed"]]
    + [(train, f, 1) for f in STANDARD + ["truncated"]]
    + [(fit, f, 1) for f in STANDARD] + [(transfer, f, 1) for f in ("malformed", "wrong type", "not UTF-8")]
    + [(experiment, f, 1) for f in ["malformed", "missing field", "wrong type", "unknown key", "missing recipe",
                                     "not UTF-8"]] + [(experiment, "empty", 3)]
    + [(push, f, 1) for f in ("malformed", "not UTF-8", "empty")]
)
# what each fault's message says (besides the file and line)
SAYS = {"malformed": r"invalid (JSON|YAML)|expected|not a", "missing field": r"missing|should be|needs|must be",
        "wrong type": r"should be|expected|must be|wrong type", "not UTF-8": r"not UTF-8",
        "empty": r"empty|no rows|no items|missing required|invalid JSON|found 0|needs at least one",
        "truncated": r"truncated", "wrong param type": r"params\.temperature' has the wrong type",
        "n out of bounds": r"'n' must be an integer from 1 to 128", "run.json malformed": r"invalid JSON",
        "unknown key": r"unknown key \(did you mean 'no_llm'\?\)", "missing recipe": r"no packaged recipe"}


def _tree(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*")}


@pytest.mark.parametrize("command,fault,problems", CASES,
                         ids=[f"{c.__name__}-{f.replace(' ', '_')}" for c, f, _ in CASES])
def test_bad_input_is_one_line_naming_the_file_and_nothing_is_written(command, fault, problems, tmp_path, capsys):
    argv, named, line = command(tmp_path, fault)
    before = _tree(tmp_path)
    capsys.readouterr()
    assert main(argv) == 2
    err = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert len(err) == problems, err
    for message in err:
        assert str(named) in message, message
        assert "Traceback" not in message
    where = f"{named}:{line}:" if line else str(named)
    assert where in err[0], err
    assert re.search(SAYS[fault], " ".join(err)), err
    assert _tree(tmp_path) == before  # nothing created, nothing half-written


def test_the_table_covers_every_command_that_reads_a_users_file():
    """The figure in docs/reliability.md: how many bad inputs the table tries, over which commands."""
    assert {c.__name__ for c, _, _ in CASES} == {"grade", "generate", "augment", "build", "train", "fit", "transfer",
                                                 "experiment", "push"}
    assert len(CASES) == 50
