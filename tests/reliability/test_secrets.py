"""Secrets never reach a written file, a log, a card or a printed message.

Five secrets, from every place a user puts one: two in the environment (HF_TOKEN, OPENAI_API_KEY), one on the
command line (`augmath generate --api-key`), two inside endpoint URLs (`http://user:PASS@host/v1`,
`...?api-key=KEY`). They go through augment (with and without calls), build, push --dry-run, generate, eval and
experiment, against a fault proxy that quotes the request's Authorization header back in its 401 error, as
careless servers do. Afterwards every byte written under the test folder and every line printed is searched
for each secret. Inputs that hold a secret on purpose (an old run folder, an experiment config) are the only
files exempt, and build / push must refuse to publish them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from analysis_fixtures import trained, write_results
from faultproxy import FaultProxy

from augmath.cli import main

HF_TOKEN = "hf_" + "SecretEnvTokenXyz" * 2
OPENAI_KEY = "sk-envkey-Q9w8e7r6t5y4u3i2"
CLI_KEY = "sk-clikey-A1s2d3f4g5h6j7k8"
URL_PASS = "UrlPass5f4e3d2c1b"
QUERY_KEY = "QueryKey0a9b8c7d6e"
SECRETS = {"$HF_TOKEN": HF_TOKEN, "$OPENAI_API_KEY": OPENAI_KEY, "--api-key": CLI_KEY,
           "URL password": URL_PASS, "URL api-key": QUERY_KEY}
AUGMENT = ["augment", "--source", "gsm8k", "--data-dir", "packaged", "--skip-decontam", "--limit", "3"]


def _leaks(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [name for name, secret in SECRETS.items() if secret.encode() in data]


def test_no_secret_reaches_any_file_log_card_or_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", HF_TOKEN)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    printed: list[str] = []

    def run(*argv: str) -> int:
        code = main([str(a) for a in argv])
        out = capsys.readouterr()
        printed.extend([out.out, out.err])
        return code

    with FaultProxy("http://127.0.0.1:9", rate=1.0, kinds=("401",)) as proxy:
        keyed_proxy = proxy.base_url.replace("http://", f"http://augmath:{URL_PASS}@")
        # 1. a run without calls records its endpoint: the URL is stored with its credentials masked
        stored_url = f"http://augmath:{URL_PASS}@127.0.0.1:9/v1?api-key={QUERY_KEY}"
        assert run(*AUGMENT, "--strategies", "numbers,reverse", "--no-llm", "--base-url", stored_url,
                   "--out", tmp_path / "runs" / "run-exact") == 0
        config = json.loads((tmp_path / "runs" / "run-exact" / "run.json").read_text())["config"]
        assert config["base_url"] == "http://***@127.0.0.1:9/v1?api-key=***"
        # 2. build copies that run.json into the dataset (and renders a card); push lists it for upload
        assert run("build", tmp_path / "runs" / "run-exact", "--out", tmp_path / "ds", "--data-dir", "packaged") == 0
        assert run("push", tmp_path / "ds", "--repo-id", "augmath-test/secrets", "--dry-run") == 0
        # 3. a run whose calls reach an endpoint that quotes the key back in its errors
        assert run(*AUGMENT, "--strategies", "rephrase", "--paths", "1", "--base-url", keyed_proxy, "--model", "m",
                   "--out", tmp_path / "runs" / "run-llm") == 1
        # 4. generate with a key on the command line
        requests = tmp_path / "requests.jsonl"
        requests.write_text(json.dumps({"messages": [{"role": "user", "content": "What is 2+2?"}]}) + "\n")
        assert run("generate", requests, "--out", tmp_path / "gen" / "log.jsonl", "--base-url", proxy.base_url,
                   "--api-key", CLI_KEY, "--model", "m", "--no-progress") == 1
        # 5. eval against an endpoint that cannot be reached: the error names it, masked
        assert run("eval", "--backend", "endpoint", "--base-url", stored_url.replace(":9/", ":1/"),
                   "--tasks", "gsm8k", "--out", tmp_path / "eval") == 2
        # 6. an experiment whose generator URL holds the credentials: its augment stage fails on the 401s
        study = tmp_path / "inputs" / "study.yaml"
        study.parent.mkdir()
        study.write_text(yaml.safe_dump({
            "name": "secrets", "workdir": str(tmp_path / "work"), "data_dir": "packaged",
            "generator": {"base_url": keyed_proxy, "model": "m"},
            "augment": [{"source": "gsm8k", "strategies": ["rephrase"], "limit": 2, "paths": 1,
                         "skip_decontam": True}],
            "base_models": ["tiny"], "eval": {"include_base": True, "tasks": ["gsm8k"]}}))
        assert run("experiment", study) == 1
    assert proxy.injected["401"] >= 3  # the key really was sent, and quoted back, on every path

    # 7. inputs made before the fix hold the URL verbatim: build and push refuse to publish them
    old_run = tmp_path / "inputs" / "run-old"
    (tmp_path / "runs" / "run-exact").rename(old_run)
    (old_run / "run.json").write_text(json.dumps({"config": {"base_url": stored_url}}))
    (old_run / "report.json").write_text("{}")
    assert run("build", old_run, "--out", tmp_path / "ds2", "--data-dir", "packaged") == 2
    assert "runs/run-old/run.json contains a credential in a URL" in printed[-1] and not (tmp_path / "ds2").exists()
    old_results = write_results(tmp_path / "inputs" / "results-old", accuracies={"gsm8k": 0.5},
                                provenance=trained("gsm8k", 8, "gsm8k", None))
    doc = json.loads((old_results / "results.json").read_text())
    (old_results / "results.json").write_text(json.dumps({**doc, "base_url": stored_url}))
    assert run("push", old_results, "--repo-id", "augmath-test/r", "--dry-run") == 2
    assert "contains a credential in a URL; refusing to publish it" in printed[-1]

    written = [p for p in tmp_path.rglob("*") if p.is_file() and "inputs" not in p.relative_to(tmp_path).parts]
    assert len(written) >= 20 and any(p.name == "README.md" for p in written)  # run folders, dataset + card, logs
    leaks = {str(p.relative_to(tmp_path)): _leaks(p.read_bytes()) for p in written if _leaks(p.read_bytes())}
    leaks.update({f"printed #{i}": _leaks(text) for i, text in enumerate(printed) if _leaks(text)})
    assert leaks == {}
    assert "***" in (tmp_path / "runs" / "run-llm" / "requests.jsonl").read_text()  # the quoted key, masked
