"""The experiment runner end to end on a tiny random Llama and a tiny exact-only slice, with kill -9 and resume."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from augmath.experiment import ExperimentConfig, plan
from augmath.stages import resolve

ROOT = Path(__file__).resolve().parents[1]


def _config(tmp_path: Path) -> Path:
    cfg = {
        "name": "tiny-e2e", "workdir": str(tmp_path / "work"), "data_dir": "packaged",
        "augment": [{"source": "gsm8k", "strategies": ["numbers", "reverse"], "limit": 10, "no_llm": True},
                    {"source": "math", "strategies": ["reverse"], "limit": 4, "no_llm": True}],
        "dataset": {"name": "augmath-tiny", "version": "0.1.0", "seed": 0},
        "base_models": ["tiny"],
        "train": {"recipe": "training/recipes/cpu_tiny.yaml",
                  "overrides": {"num_train_epochs": 1, "global_batch_size": 4, "per_device_train_batch_size": 4},
                  "runs": [{"config": "gsm8k", "amounts": [4, 8]}]},
        "eval": {"tasks": ["gsm8k"], "max_samples": 3, "include_base": False, "args": ["--max-new-tokens", "8"]},
        "push": {"org": "augmath-test", "dry_run": True},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_plan_keys_change_only_downstream_of_a_changed_setting(tmp_path):
    path = _config(tmp_path)
    cfg = ExperimentConfig.from_yaml(path)
    a = {s.name: s.key for s in resolve(plan(cfg), tmp_path / "s")}
    cfg.train["runs"][0]["amounts"] = [4, 16]
    b = {s.name: s.key for s in resolve(plan(cfg), tmp_path / "s")}
    assert a["augment-gsm8k"] == b["augment-gsm8k"] and a["build"] == b["build"]
    assert a["train-tiny-gsm8k-4"] == b["train-tiny-gsm8k-4"]
    assert "train-tiny-gsm8k-16" in b and "train-tiny-gsm8k-8" not in b
    assert a["fit"] != b["fit"] and a["report"] != b["report"]


def test_build_reads_every_augment_run_under_a_distinct_name():
    """`augmath build` names each input run by its folder; two runs named alike are refused, so the plan of
    the README's main job must give each augment run its own folder name."""
    cfg = ExperimentConfig.from_yaml(ROOT / "configs" / "demo.yaml")
    stages = {s.name: s for s in plan(cfg)}
    augments = [name for name, s in stages.items() if s.kind == "augment"]
    inputs = [a for a in stages["build"].argv if a.startswith("{dep:")]
    assert len(augments) == len(inputs) == 3  # gsm8k exact, gsm8k with the LLM, math
    assert len({Path(a).name for a in inputs}) == 3
    for name in augments:
        assert f"{{dep:{name}}}/{name}" in inputs and f"{{out}}/{name}" in stages[name].argv
    # The base model's eval feeds the transfer matrix but not the fit (it has no data amount N).
    assert any("eval-base-embedded" in a for a in stages["transfer"].argv)
    assert not any("eval-base" in a for a in stages["fit"].argv) and "eval-base-embedded" not in stages["fit"].deps
    assert sum("eval-train-" in a for a in stages["fit"].argv) == 6
    # The main job measures something that moves: bits per byte, a curve over >= 4 nested amounts of one config,
    # and >= 2 strategies plus the original seeds at one equal N (issue #14).
    assert all(t.endswith("_bpb") for t in cfg.eval["tasks"]) and {"gsm8k_bpb", "math500_bpb", "svamp_bpb"} <= set(
        cfg.eval["tasks"])
    runs = {r["config"]: r["amounts"] for r in cfg.train["runs"]}
    assert any(len(a) >= 4 for a in runs.values())
    shared = set.intersection(*(set(a) for c, a in runs.items() if c.startswith("gsm8k-")))
    assert shared and "gsm8k-original" in runs and len([c for c in runs if c != "gsm8k-original"]) >= 2
    max_samples = next(a for a in stages["eval-base-embedded"].argv if "gsm8k_bpb=" in a)
    assert "math500_bpb=" in max_samples  # per-task item counts reach `augmath eval`


def test_two_augment_runs_need_distinct_names(tmp_path):
    path = _config(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["augment"].append(dict(raw["augment"][0]))
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValueError, match=r"augment\[2\] and augment\[0\] are both named 'gsm8k'"):
        ExperimentConfig.from_yaml(path)
    raw["augment"][2]["name"] = "gsm8k-more"
    path.write_text(yaml.safe_dump(raw))
    stages = {s.name: s for s in plan(ExperimentConfig.from_yaml(path))}
    assert "augment-gsm8k-more" in stages and "--name" not in stages["augment-gsm8k-more"].argv


def test_bad_config_is_named(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nworkdir: w\naugment: [{source: gsm8k}]\n")
    with pytest.raises(ValueError, match=r"augment\[0\] needs 'source' and 'strategies'"):
        ExperimentConfig.from_yaml(bad)
    bad.write_text("name: x\nworkdir: w\naugment: [{source: gsm8k, strategies: [numbers]}]\ntrian: {}\n")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['trian'\]"):
        ExperimentConfig.from_yaml(bad)


@pytest.mark.slow
def test_experiment_runs_end_to_end_and_resumes_after_kill(tmp_path):
    path = _config(tmp_path)
    cmd = [sys.executable, "-m", "augmath.cli", "experiment", str(path)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    work = tmp_path / "work"
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.time() + 600
    while time.time() < deadline and not list(work.glob("stages/build-*/.stage.json")):
        assert proc.poll() is None, proc.stdout.read().decode()
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)  # kill -9 the runner and whatever stage it is in
    proc.wait()
    done_before = {p.parent.name for p in work.glob("stages/*/.stage.json")}
    assert any(n.startswith("build-") for n in done_before)

    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    text = " ".join(out.stdout.split())
    assert "augment-gsm8k done earlier, skipped" in text and "build done earlier, skipped" in text
    report = next(work.glob("stages/report-*/report"))
    assert (report / "report.md").exists() and (report / "README.md").exists()
    index = json.loads((report / "results.json").read_text())
    assert set(index["results"]) == {"eval-train-tiny-gsm8k-4", "eval-train-tiny-gsm8k-8"}
    for r in index["results"].values():
        assert r["tasks"]["gsm8k"]["n"] == 3
    dataset = next(work.glob("stages/build-*/dataset"))
    from datasets import load_dataset

    rows = load_dataset(str(dataset), "gsm8k", split="train")
    assert len(rows) >= 8 and set(rows["strategy"]) <= {"numbers", "reverse"}
    # Everything is done now: a third run runs nothing.
    again = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and " running ..." not in again.stdout
