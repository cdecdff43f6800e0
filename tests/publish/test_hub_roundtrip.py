"""The Hub read protocol end to end, offline: what `augmath push --dry-run --stage` staged for a small experiment
(dataset, a LoRA model, the results repo) served by olah from git repositories and read back by the ordinary
clients through HF_ENDPOINT, starting with README.md's "Using the published artifacts" snippet as written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from augmath.publish import roundtrip

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_snippet_names_the_demo_configs_repos(tmp_path):
    """The README's repo ids are those configs/demo.yaml publishes (ORG = push.org), so the snippet the round trip
    runs is the one a user of the demo's artifacts would copy."""
    from augmath.experiment import ExperimentConfig, plan

    raw = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())
    raw["workdir"] = str(tmp_path / "work")
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(raw))
    cfg = ExperimentConfig.from_yaml(tmp_path / "demo.yaml")
    pushes = {s.name: s.argv[s.argv.index("--repo-id") + 1] for s in plan(cfg) if s.name.startswith("push-")}
    named = {role: repo.replace("ORG/", f"{cfg.push.org}/")
             for role, repo in roundtrip.snippet_repo_ids(roundtrip.readme_snippet()).items()}
    assert named["dataset"] == pushes["push-build"] and named["results"] == pushes["push-report"]
    assert named["model"] in {repo for name, repo in pushes.items() if name.startswith("push-train-")}
    assert 'revision="v0.1.0"' in roundtrip.readme_snippet() and cfg.dataset.version == "0.1.0"


def test_the_snippet_is_bound_by_role_and_otherwise_unchanged():
    snippet = roundtrip.readme_snippet()
    bound = roundtrip.bind_snippet(snippet, {"dataset": "o/d", "model": "o/m", "results": "o/r"})
    assert roundtrip.snippet_repo_ids(bound) == {"dataset": "o/d", "model": "o/m", "results": "o/r"}
    named = roundtrip.snippet_repo_ids(snippet)
    back = bound.replace('"o/d"', f'"{named["dataset"]}"').replace('"o/m"', f'"{named["model"]}"').replace(
        '"o/r"', f'"{named["results"]}"')
    assert back == snippet


def _experiment(tmp_path: Path) -> Path:
    cfg = {
        "name": "augmath-demo", "workdir": str(tmp_path / "work"), "data_dir": "packaged",
        "augment": [{"source": "gsm8k", "strategies": ["numbers", "reverse"], "limit": 10, "no_llm": True}],
        "dataset": {"name": "augmath-demo", "version": "0.1.0", "seed": 0},
        "base_models": ["tiny"],
        "train": {"recipe": "training/recipes/cpu_tiny.yaml",
                  "overrides": {"num_train_epochs": 1, "global_batch_size": 4, "per_device_train_batch_size": 4,
                                "use_peft": True, "lora_r": 4, "lora_alpha": 8},
                  "runs": [{"config": "gsm8k-numbers", "amounts": [2, 4]}]},  # a fit needs two N
        # the demo's kind of task: bits per byte of the reference solutions, forward passes only
        "eval": {"tasks": ["gsm8k_bpb"], "max_samples": 3, "include_base": False},
        "push": {"org": "augmath-test", "dry_run": True, "dtype": "bfloat16"},
    }
    path = tmp_path / "roundtrip.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.slow
def test_what_the_dry_run_staged_is_what_a_user_gets(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-m", "augmath.cli", "experiment", str(_experiment(tmp_path))], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=1500)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    work = tmp_path / "work"
    report = roundtrip.round_trip([work], tmp_path / "served")
    assert report["problems"] == [], "\n".join(report["problems"]) + report["client_stderr"]
    checked = "\n".join(report["checked"])
    assert "augmath-test/augmath-demo@v0.1.0: " in checked and "configs load with the build's row counts" in checked
    assert "augmath-test/augmath-demo-tiny-gsm8k-numbers-4: loads by repo id; a forward pass equals" in checked
    assert "augmath-test/augmath-demo-results: results.json read by hf_hub_download; the 3 repo ids" in checked
    assert "README snippet ran unchanged" in checked
    # the snippet printed the one evaluation with the model repo it scored
    assert "eval-train-tiny-gsm8k-numbers-4 augmath-test/augmath-demo-tiny-gsm8k-numbers-4" in report["snippet_output"]
    # the LoRA adapter names its base as published (a tiny model made here: its label), not a local folder
    served = tmp_path / "served" / "mirrors" / "models" / "augmath-test" / "augmath-demo-tiny-gsm8k-numbers-4"
    adapter = json.loads((served / "adapter" / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == "tiny" or not adapter["base_model_name_or_path"].startswith("/")

    # the documented command does the same and says so
    cli = subprocess.run([sys.executable, "-m", "augmath.publish.roundtrip", str(work)], cwd=ROOT,
                         capture_output=True, text=True, timeout=900)
    assert cli.returncode == 0, cli.stdout[-2000:] + cli.stderr[-2000:]
    assert "0 differences" in cli.stdout
