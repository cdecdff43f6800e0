"""The single-GPU study (configs/gpu_study.yaml) cannot rot: its data script, its plan on any machine, and the
same config run in miniature on CPU through the same code path (prebuilt dataset, the GPU recipe, mixtures,
full report with the summary table and per-stage wall-clock)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from augmath.experiment import ExperimentConfig, plan
from augmath.experiment.config import ConfigError
from augmath.experiment.stages import resolve

ROOT = Path(__file__).resolve().parents[2]
STUDY = ROOT / "configs" / "gpu_study.yaml"
CLI = [sys.executable, "-m", "augmath.cli"]
# The real config's query amounts, scaled down for the ~100-query miniature dataset (the same shape of study).
SMALL = {500: 1, 1000: 2, 2000: 4, 4000: 8, 8000: 16}


def test_the_study_plans_every_question_without_its_data(tmp_path):
    """--plan on a machine without the prepared data: notes for the missing folders, queries per train stage,
    full test-set items per eval stage, and no augment, build or push command."""
    raw = yaml.safe_load(STUDY.read_text())
    raw["workdir"] = str(tmp_path / "work")
    raw["dataset"]["path"] = str(tmp_path / "nowhere")
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(raw))
    out = subprocess.run(CLI + ["experiment", str(path), "--plan"], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"note: dataset.path: {tmp_path / 'nowhere'} is not a dataset folder" in out.stdout
    assert "queries: gsm8k 8,000 (rows: once the dataset exists)" in out.stdout
    assert "queries: gsm8k-original all + gsm8k 4,000" in out.stdout
    assert out.stdout.count("2,819 items (gsm8k 1,319, math500 500, svamp 1,000)") == 10  # base + 9 trained
    stages = {s.name: s for s in plan(ExperimentConfig.from_yaml(path, folders=False))}
    assert {s.kind for s in stages.values()} == {"python", "train", "eval", "fit", "transfer"}
    assert stages["build"].argv == ["prebuilt-dataset", "missing"]  # keyed on the data, once it exists
    assert sum(s.kind == "train" for s in stages.values()) == 9
    # running it refuses at once, naming the folder, before any stage starts
    run = subprocess.run(CLI + ["experiment", str(path)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 2 and "dataset.path:" in run.stderr and "no manifest.json" in run.stderr
    assert not (tmp_path / "work").exists()


@pytest.mark.parametrize("change, message", [
    (lambda raw: raw.update(augment=[{"source": "gsm8k", "strategies": ["numbers"]}]),
     r"augment: a prebuilt dataset \(dataset.path\) is read as it is"),
    (lambda raw: raw["dataset"].update(seed=3), r"dataset.seed: was set when the folder at dataset.path was built"),
    (lambda raw: raw["dataset"].pop("path"), r"augment: needs at least one entry \(source, strategies\), or "
                                              r"dataset.path"),
    (lambda raw: raw["dataset"].update(pth="x"), r"dataset.pth: unknown key \(did you mean 'path'\?\)"),
])
def test_a_prebuilt_dataset_is_checked_like_every_other_key(tmp_path, change, message):
    raw = yaml.safe_load(STUDY.read_text())
    change(raw)
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=message):
        ExperimentConfig.from_yaml(path, folders=False)


@pytest.fixture(scope="module")
def study_data(tmp_path_factory):
    """scripts/gpu_study_data.sh on the packaged samples: augment (numbers, reverse, 3 rounds, no LLM) + build."""
    out = tmp_path_factory.mktemp("gpu-study-data")
    env = {**os.environ, "AUGMATH_DATA_DIR": "packaged", "GPU_STUDY_LIMIT": "40",
           "AUGMATH": f"{sys.executable} -m augmath.cli"}
    done = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_study_data.sh"), str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    manifest = json.loads((out / "dataset" / "manifest.json").read_text())
    assert {"gsm8k", "gsm8k-numbers", "gsm8k-reverse", "gsm8k-original"} <= set(manifest["configs"])
    assert manifest["name"] == "augmath-gpu-study" and manifest["version"] == "0.1.0"
    return out / "dataset"


def miniature(tmp_path: Path, dataset: Path, runs: slice = slice(None)) -> Path:
    """configs/gpu_study.yaml with CPU-sized knobs only: the tiny random Llama, query amounts / 500, the packaged
    samples, 2 items per task, fp32 on the CPU. Everything else (recipe, tasks, report) is the study's own."""
    raw = yaml.safe_load(STUDY.read_text())
    raw.update(workdir=str(tmp_path / "work"), data_dir="packaged", base_models=["tiny"])
    raw["dataset"]["path"] = str(dataset)
    for run in raw["train"]["runs"]:
        run["amounts"] = [SMALL.get(a, a) for a in run["amounts"]]
    raw["train"]["runs"] = raw["train"]["runs"][runs]
    # "no": fp32 on CPU, as the CPU recipes train (a quoted "no" must reach the recipe as the string, not false)
    raw["train"]["overrides"] = {"mixed_precision": "no", "per_device_train_batch_size": 4, "global_batch_size": 4}
    args = raw["eval"]["args"]
    args[args.index("--device") + 1], args[args.index("--batch-size") + 1] = "cpu", 8
    args[args.index("--max-new-tokens") + 1] = 8
    raw["eval"]["max_samples"] = 2
    path = tmp_path / "gpu_study_mini.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.mark.slow
def test_the_plan_counts_rows_as_training_takes_them(tmp_path, study_data):
    """With the data present, --plan shows the rows each train stage takes (the training code's own count)."""
    from augmath.dataset_builders.subsets import take_subset

    path = miniature(tmp_path, study_data)
    out = subprocess.run(CLI + ["experiment", str(path), "--plan"], capture_output=True, text=True, cwd=ROOT,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert "note:" not in out.stdout
    series = len(take_subset(study_data, "gsm8k", 16))
    originals = json.loads((study_data / "manifest.json").read_text())["configs"]["gsm8k-original"]["rows"]
    assert f"{series:,} rows x 1 epoch(s) (gsm8k 16q/{series:,}r)" in out.stdout
    assert f"{originals + 8:,} rows x 1 epoch(s) (gsm8k-original {originals:,}q/{originals:,}r + gsm8k 8q/8r)" \
        in out.stdout
    assert out.stdout.count("6 items (gsm8k 2, math500 2, svamp 2)") == 10
    # the build stage is keyed on the data, not its folder: a copy elsewhere plans the same stages
    import shutil

    shutil.copytree(study_data, tmp_path / "moved")
    keys = [{s.name: s.key for s in resolve(plan(ExperimentConfig.from_yaml(miniature(tmp_path, d))), tmp_path)}
            for d in (study_data, tmp_path / "moved")]
    assert keys[0] == keys[1]


@pytest.mark.slow
def test_the_study_runs_in_miniature_on_cpu(tmp_path, study_data):
    """The study's config, shrunk to its base model and two amounts of the scaling series (the other runs are
    the same train stages on other configs; the mixture's rows are checked by the plan test above), end to end."""
    path = miniature(tmp_path, study_data, runs=slice(0, 1))
    raw = yaml.safe_load(path.read_text())
    raw["train"]["runs"][0]["amounts"] = [2, 4]
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    out = subprocess.run(CLI + ["experiment", str(path)], capture_output=True, text=True, cwd=ROOT, timeout=1800,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    work = tmp_path / "work"
    stages = {p.parent.name.rsplit("-", 1)[0]: p.parent for p in work.glob("stages/*/.stage.json")}
    assert not any(name.startswith(("augment", "push")) for name in stages)

    # the build stage is the prebuilt folder, file for file (hard links on one file system: no copy)
    built = stages["build"] / "dataset"
    for rel in json.loads((study_data / "manifest.json").read_text())["files"]:
        assert os.path.samefile(built / rel, study_data / rel), rel
    record = json.loads((stages["train-tiny-gsm8k-4"] / "model" / "augmath_train.json").read_text())
    recipe = record["recipe"]
    assert (recipe["batching"], recipe["learning_rate"], recipe["lr_scheduler_type"], recipe["warmup_ratio"],
            recipe["num_train_epochs"], recipe["mixed_precision"]) == ("padded", 2e-4, "cosine", 0.03, 1, "no")
    assert record["dataset"]["num_queries"] == 4 and record["dataset"]["id"].endswith("dataset")

    report = next(work.glob("stages/report-*/report"))
    text = (report / "report.md").read_text()
    summary = text.split("## Summary\n", 1)[1].split("\n## ", 1)[0]
    for model in ("eval-base-tiny", "eval-train-tiny-gsm8k-2", "eval-train-tiny-gsm8k-4"):
        row = next(line for line in summary.splitlines() if line.startswith(f"| {model} |"))
        assert row.count("(2)") == 3, row  # 2 items of each of the three tasks
    assert "| eval-base-tiny | none (base model) | — |" in summary and "| eval-train-tiny-gsm8k-4 | gsm8k | 4 |" in summary
    assert "not reproduce the paper" in text  # the study's description under the title

    timings = json.loads((report / "timings.json").read_text())
    timed = {t["stage"]: t for t in timings["stages"]}
    expected = {"build", "base-tiny", "fit", "transfer"} | {n for n in stages if n.startswith(("train-", "eval-"))}
    assert set(timed) == expected and all(t["seconds"] > 0 for n, t in timed.items() if n != "build")
    assert timed["train-tiny-gsm8k-4"]["kind"] == "train" and "## Wall-clock per stage" in text
    assert f"| train-tiny-gsm8k-4 | train | {timed['train-tiny-gsm8k-4']['seconds']:,.1f} |" in text
    whole = json.loads((work / "timings.json").read_text())
    assert {t["stage"] for t in whole["stages"]} == expected | {"report"} and set(whole["ran_now"]) == set(stages)
    assert whole["wall_seconds"] >= timings["total_seconds"]
    assert "| gsm8k | gsm8k | 2 | loglinear |" in text  # the scaling series fitted on its two amounts


def test_recipe_overrides_reach_training_as_written(tmp_path):
    """An override's value is what `augmath train` reads back: the string "no" stays a string (YAML would read
    false), null stays null (not the string 'None'), numbers and names keep their plain, key-stable text."""
    from augmath.training.config import parse_overrides

    raw = yaml.safe_load(STUDY.read_text())
    raw["train"]["overrides"] = {"mixed_precision": "no", "dataset_revision": None, "learning_rate": 1.0e-4,
                                 "prompt_template": "alpaca-input"}
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(raw))
    st = next(s for s in plan(ExperimentConfig.from_yaml(path, folders=False)) if s.kind == "train")
    tail = st.argv[st.argv.index("--hub_model_id") + 2:]
    assert dict(zip(tail[::2], tail[1::2])) == {"--mixed_precision": '"no"', "--dataset_revision": "null",
                                                "--learning_rate": "0.0001", "--prompt_template": "alpaca-input"}
    assert parse_overrides(tail) == raw["train"]["overrides"]


@pytest.mark.slow
def test_a_damaged_or_changed_prebuilt_dataset_is_refused(tmp_path, study_data):
    """The build stage checks every file against the manifest before linking: a truncated parquet is named, and a
    dataset rebuilt after the plan (its manifest changed) is refused rather than trained on under the old key."""
    import shutil

    from augmath.io import DataError
    from augmath.experiment.prebuilt import fingerprint, link_dataset

    copy = tmp_path / "dataset"
    shutil.copytree(study_data, copy)
    key = fingerprint(str(copy))
    victim = copy / "data" / "gsm8k" / "train-00000-of-00001.parquet"
    victim.write_bytes(victim.read_bytes()[:100])
    with pytest.raises(DataError, match=r"gsm8k/train-00000-of-00001.parquet is missing or differs"):
        link_dataset(copy, tmp_path / "out" / "dataset", key)
    assert not (tmp_path / "out" / "dataset").exists()
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"]["data/gsm8k/train-00000-of-00001.parquet"]["bytes"] = 100
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="changed after the experiment was planned"):
        link_dataset(copy, tmp_path / "out" / "dataset", key)
