"""`augmath augment --plan` (issue #25): what a run will send and cost, checked against the run itself.

The plan's request counts and prompt tokens (the embedded SmolLM2's own tokenizer and chat template) are compared
with what the real embedded llama-server reported for the same run; the second plan reads the run's log (samples
already there, the measured mean completion length)."""

from __future__ import annotations

import argparse
import json

import pytest

from augmath.augment.plan import make_plan
from augmath.augment.run import add_arguments
from augmath.cli import main
from augmath.engine import read_log

COMMON = ["--source", "gsm8k", "--limit", "12", "--paths", "2", "--max-tokens", "96", "--skip-decontam",
          "--data-dir", "packaged", "--price-in", "0.5", "--price-out", "1.5", "--batch-discount", "0.5"]


def _plan(argv: list[str]) -> dict:
    from augmath.augment.strategies import get
    from augmath.sources import load

    p = argparse.ArgumentParser()
    add_arguments(p)
    args = p.parse_args(argv)
    from pathlib import Path

    return make_plan(args, get(args.strategies), load("gsm8k", "train", "packaged", args.limit), Path(args.out),
                     "gsm8k", 96)


def _calls(run) -> list[dict]:
    return list({id(call): call for _, call in read_log(run / "requests.jsonl").done.values()}.values())


def test_plan_creates_nothing_and_bad_discount_is_exit_2(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["augment", *COMMON, "--strategies", "numbers,reverse,rephrase", "--out", str(out), "--plan"]) == 0
    text = capsys.readouterr().out
    assert "total" in text and "prompt tok" in text and not out.exists()
    assert main(["augment", *COMMON, "--strategies", "reverse", "--out", str(out), "--plan",
                 "--batch-discount", "1.5"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1 and not out.exists()


def test_plan_uses_chars_over_4_for_an_unknown_model(tmp_path):
    plan = _plan([*COMMON, "--strategies", "rephrase", "--base-url", "http://127.0.0.1:9/v1", "--model", "gpt-x",
                  "--out", str(tmp_path / "r")])
    assert plan["tokenizer"].startswith("chars/4")
    row = next(r for r in plan["rows"] if r["phase"] == "queries")
    assert row["requests"] == 12 and row["completion_tokens_max"] == 12 * 96


@pytest.mark.slow
@pytest.mark.parametrize("strategy, phase", [("reverse", "paths"), ("rephrase", "queries")])
def test_plan_matches_the_run(tmp_path, embedded_server, strategy, phase):
    run = tmp_path / "run"
    argv = [*COMMON, "--strategies", strategy, "--limit", "12" if phase == "paths" else "4",
            "--base-url", embedded_server.base_url, "--model",
            embedded_server.model, "--out", str(run)]
    plan = _plan(argv)
    assert plan["tokenizer"].startswith("SmolLM2")
    row = next(r for r in plan["rows"] if r["phase"] == phase)
    assert not row["estimated"] and row["requests"] > 0
    assert main(["augment", *argv]) in (0, 1)
    key = {"paths": "q", "queries": "i"}[phase]
    calls = [c for c in _calls(run) if key in c["meta"]]
    assert row["requests"] == len(calls) and row["samples"] == sum(len(c["samples"]) for c in calls)
    assert row["prompt_tokens"] == sum(c["usage"]["prompt_tokens"] for c in calls)  # the server's own count
    assert row["usd_max"] == round((row["prompt_tokens"] * 0.5 + row["completion_tokens_max"] * 1.5) / 1e6 * 0.5, 4)

    again = _plan(argv)  # the log now holds these samples, and a measured completion length
    row2 = next(r for r in again["rows"] if r["phase"] == phase)
    assert row2["in_log"] == row["samples"] and row2["to_send"] == 0 and row2["requests"] == 0
    completion = sum(c["usage"]["completion_tokens"] for c in calls)
    samples = sum(1 if c["usage"].get("partial") else len(c["samples"]) for c in calls)
    assert again["measured_mean_completion_tokens"][phase] == round(completion / samples, 1)


def test_experiment_plan_has_a_calls_line_per_augment_stage(tmp_path):
    import re
    from pathlib import Path

    import yaml

    from augmath.experiment import ExperimentConfig, plan
    from augmath.experiment.sizes import stage_sizes
    from augmath.experiment.stages import resolve

    raw = yaml.safe_load((Path(__file__).parents[2] / "configs" / "demo.yaml").read_text())
    raw["workdir"] = str(tmp_path / "work")
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(raw))
    cfg = ExperimentConfig.from_yaml(tmp_path / "demo.yaml")
    stages = resolve(plan(cfg), tmp_path / "work" / "stages")
    sizes = stage_sizes(cfg, stages)
    lines = {s.name: sizes[s.name] for s in stages if s.kind == "augment"}
    assert lines and all(re.match(r"calls: [\d,]+ requests to send", v) for v in lines.values()), lines
    assert any(not v.startswith("calls: 0 ") for v in lines.values())  # the LLM stages send something
    assert not any(s.out.exists() for s in stages)
