"""The experiment runner end to end on a tiny random Llama and a tiny exact-only slice, with kill -9 and resume;
then every push it staged (dry run) read as a user of the Hub would."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from augmath.experiment import ExperimentConfig, plan
from augmath.experiment.stages import resolve

ROOT = Path(__file__).resolve().parents[2]


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
        "push": {"org": "augmath-test", "dry_run": True, "dtype": "bfloat16"},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_plan_keys_change_only_downstream_of_a_changed_setting(tmp_path):
    path = _config(tmp_path)
    cfg = ExperimentConfig.from_yaml(path)
    a = {s.name: s.key for s in resolve(plan(cfg), tmp_path / "s")}
    cfg.train.runs[0].amounts = [4, 16]
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
    assert sum("eval-train-" in a for a in stages["fit"].argv) == 13
    # The main job can decide something (issue #23): bits per byte over >= 5 nested amounts of one config, >= 2
    # strategies plus the original seeds at one equal N with >= 3 training seeds each, and >= 100 GSM8K, >= 100 SVAMP
    # and >= 40 MATH-500 items, the same for every model, scored at batch 1 (the fastest on CPU).
    assert all(t.endswith("_bpb") for t in cfg.eval.tasks) and {"gsm8k_bpb", "math500_bpb", "svamp_bpb"} <= set(
        cfg.eval.tasks)
    amounts, seeds = {}, {}
    for r in cfg.train.runs:
        amounts.setdefault(r.config, set()).update(r.amounts)
        for n in r.amounts:
            seeds.setdefault((r.config, n), set()).update(r.seeds or cfg.train.seeds or [None])
    assert any(len(a) >= 5 for a in amounts.values())
    shared = set.intersection(*amounts.values())
    assert shared and "gsm8k-original" in amounts and len([c for c in amounts if c != "gsm8k-original"]) >= 2
    assert all(len(seeds[(c, n)]) >= 3 for c in amounts for n in shared)
    assert cfg.eval.max_samples["gsm8k_bpb"] >= 100 and cfg.eval.max_samples["svamp_bpb"] >= 100
    assert cfg.eval.max_samples["math500_bpb"] >= 40
    max_samples = next(a for a in stages["eval-base-embedded"].argv if "gsm8k_bpb=" in a)
    assert "math500_bpb=" in max_samples  # per-task item counts reach `augmath eval`
    argv = stages["eval-base-embedded"].argv
    assert argv[argv.index("--batch-size") + 1] == "1"


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
    with pytest.raises(ValueError, match=r"augment\[0\]\.strategies: missing required key"):
        ExperimentConfig.from_yaml(bad)
    bad.write_text("name: x\nworkdir: w\naugment: [{source: gsm8k, strategies: [numbers]}]\ntrian: {}\n")
    with pytest.raises(ValueError, match=r"trian: unknown key \(did you mean 'train'\?\)"):
        ExperimentConfig.from_yaml(bad)


@pytest.mark.parametrize("eval_section, message", [
    ("{tasks: [gsm8k_bpd]}", r"eval\.tasks: unknown task\(s\) gsm8k_bpd; valid: gsm8k, .*gsm8k_bpb"),
    ("{tasks: [gsm8k_bpb], max_samples: {svamp_bpb: 4}}", r"eval\.max_samples: svamp_bpb not in eval\.tasks"),
    ("{tasks: [gsm8k_bpb], max_samples: {gsm8k_bpb: many}}", r"eval\.max_samples\.gsm8k_bpb: expected an integer"),
])
def test_bad_eval_sections_are_named(tmp_path, eval_section, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"name: x\nworkdir: w\naugment: [{{source: gsm8k, strategies: [numbers]}}]\neval: {eval_section}\n")
    with pytest.raises(ValueError, match=message):
        ExperimentConfig.from_yaml(bad)


def test_per_task_sample_sizes_reach_the_eval_command(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("name: x\nworkdir: w\naugment: [{source: gsm8k, strategies: [numbers]}]\n"
                    "eval: {tasks: [gsm8k_bpb, math500_bpb], max_samples: {gsm8k_bpb: 14, math500_bpb: 4}}\n")
    argv = next(s.argv for s in plan(ExperimentConfig.from_yaml(good)) if s.name.startswith("eval-"))
    assert argv[argv.index("--max-samples") + 1] == "gsm8k_bpb=14,math500_bpb=4"


def test_the_demo_plan_counts_each_likelihood_task_at_its_own_size(tmp_path):
    """--plan reads per-task --max-samples as `augmath eval` does (gsm8k_bpb=14,...) and a _bpb task's items
    from its benchmark."""
    from augmath.experiment.sizes import stage_sizes

    raw = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())
    raw["workdir"] = str(tmp_path / "work")
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(raw))
    cfg = ExperimentConfig.from_yaml(path)
    sizes = stage_sizes(cfg, resolve(plan(cfg), tmp_path / "work" / "stages"))
    assert sizes["eval-base-embedded"] == "240 items (gsm8k_bpb 100, math500_bpb 40, svamp_bpb 100)"
    raw["eval"]["max_samples"] = {"gsm8k_bpb": 3}  # the others: every packaged item
    path.write_text(yaml.safe_dump(raw))
    cfg = ExperimentConfig.from_yaml(path)
    sizes = stage_sizes(cfg, resolve(plan(cfg), tmp_path / "work" / "stages"))
    assert re.fullmatch(r"\d+ items \(gsm8k_bpb 3, math500_bpb (\d+), svamp_bpb (\d+)\)", sizes["eval-base-embedded"])
    assert "math500_bpb 4," not in sizes["eval-base-embedded"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """The tiny experiment, killed with -9 once the dataset is built, then resumed to the end."""
    tmp_path = tmp_path_factory.mktemp("experiment")
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
    assert any(p.parent.name.startswith("build-") for p in work.glob("stages/*/.stage.json"))

    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return {"root": tmp_path, "work": work, "cmd": cmd, "env": env, "resumed": out}


@pytest.mark.slow
def test_experiment_runs_end_to_end_and_resumes_after_kill(finished):
    work, cmd, env = finished["work"], finished["cmd"], finished["env"]
    text = " ".join(finished["resumed"].stdout.split())
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


def _data_overrides(argv: list[str]) -> dict:
    """The recipe keys a train stage's argv sets to choose its rows (placeholders like {dep:build} left out)."""
    from augmath.experiment.train_runs import DATA_KEYS
    from augmath.training.config import parse_overrides

    pairs = argv[argv.index("--dataset") + 2:]
    return parse_overrides([x for k, v in zip(pairs[::2], pairs[1::2]) if k[2:] in DATA_KEYS for x in (k, v)])


def test_train_runs_express_grids_rounds_and_mixtures(tmp_path):
    from augmath.training.config import load_recipe

    path = _config(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["dataset"]["paths_per_query"] = 3
    raw["train"]["runs"] = [
        {"config": "gsm8k", "amounts": [4, 8], "paths_per_query": [1, 2]},
        {"config": "gsm8k", "rounds": [[0], [0, 1]]},
        {"mixture": [{"config": "gsm8k-original", "amount": "all"}, {"config": "gsm8k"}], "rounds": [0, 1],
         "paths_per_query": 2, "amounts": [4, 8]},
    ]
    path.write_text(yaml.safe_dump(raw))
    stages = {s.name: s for s in plan(ExperimentConfig.from_yaml(path))}
    assert sorted(n for n in stages if n.startswith("train-")) == [
        "train-tiny-gsm8k-k1-4", "train-tiny-gsm8k-k1-8", "train-tiny-gsm8k-k2-4", "train-tiny-gsm8k-k2-8",
        "train-tiny-gsm8k-original+gsm8k-r0+1-k2-4", "train-tiny-gsm8k-original+gsm8k-r0+1-k2-8",
        "train-tiny-gsm8k-r0+1-all", "train-tiny-gsm8k-r0-all"]
    assert stages["build"].argv[-2:] == ["--paths-per-query", "3"]

    def recipe(name):  # what `augmath train` reads from the stage's argv (the packaged recipe's own data keys gone)
        return load_recipe(stages[name].argv[1], _data_overrides(stages[name].argv))

    grid = recipe("train-tiny-gsm8k-k2-8")
    assert (grid.dataset_config, grid.num_queries, grid.paths_per_query, grid.num_samples) == ("gsm8k", 8, 2, None)
    assert recipe("train-tiny-gsm8k-r0-all").rounds == [0] and recipe("train-tiny-gsm8k-r0-all").num_queries is None
    assert recipe("train-tiny-gsm8k-r0+1-all").rounds == [0, 1]
    mix = recipe("train-tiny-gsm8k-original+gsm8k-r0+1-k2-8")  # the run's rounds and K reach the varying part only
    assert mix.dataset_config is None and mix.dataset_parts == [
        {"config": "gsm8k-original"}, {"config": "gsm8k", "num_queries": 8, "paths_per_query": 2, "rounds": [0, 1]}]


@pytest.mark.parametrize("runs, message", [
    ([{"config": "gsm8k", "amounts": [4]}, {"config": "gsm8k", "amounts": [4, 8]}],
     r"train.runs\[1\] and train.runs\[0\] both make the train stage 'gsm8k-4'"),
    ([{"config": "gsm8k", "amounts": [0]}], r"train.runs\[0\].amounts: needs query counts > 0 or 'all'"),
    ([{"config": "gsm8k", "amounts": ["most"]}], r"train.runs\[0\].amounts\[0\]: expected an integer or all"),
    ([{"config": "gsm8k", "rounds": [-1]}], r"train.runs\[0\].rounds: round numbers are >= 0"),
    ([{"config": "gsm8k", "amounts": [4], "path_per_query": 2}],
     r"train.runs\[0\].path_per_query: unknown key \(did you mean 'paths_per_query'\?\)"),
    ([{"mixture": [{"config": "a", "amount": 3}, {"config": "b", "amount": "all"}], "amounts": [4]}],
     "leave 'amount' out of the part that should take each N"),
    ([{"mixture": [{"config": "a"}], "amounts": [4]}], "two or more parts with distinct configs"),
    ([{"mixture": [{"config": "a"}, {"config": "b"}], "config": "a"}], "either 'config' or 'mixture'"),
    ([{"mixture": [{"conf": "a"}, {"config": "b"}]}], r"train.runs\[0\].mixture\[0\].conf: unknown key"),
])
def test_bad_train_runs_are_named(tmp_path, runs, message):
    path = _config(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["train"]["runs"] = runs
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValueError, match=message):
        ExperimentConfig.from_yaml(path)


@pytest.mark.slow
def test_a_mixture_trains_in_a_small_experiment(tmp_path):
    """augment -> build -> tiny base -> one train stage on gsm8k-original (all) + gsm8k D_4, run as the
    experiment runs its stages; the other N of the series would hold the same originals and a larger D_N."""
    from augmath.experiment.stages import run_stage
    from augmath.training.config import load_recipe
    from augmath.training.data import load_rows

    path = _config(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["train"]["runs"] = [{"mixture": [{"config": "gsm8k-original", "amount": "all"}, {"config": "gsm8k"}],
                             "amounts": [4, 8]}]
    path.write_text(yaml.safe_dump(raw))
    stages = resolve(plan(ExperimentConfig.from_yaml(path)), tmp_path / "stages")
    by_name = {s.name: s for s in stages}
    for name in ("augment-gsm8k", "augment-math", "build", "base-tiny", "train-tiny-gsm8k-original+gsm8k-4"):
        run_stage(by_name[name], by_name, tmp_path)
    record = json.loads((by_name["train-tiny-gsm8k-original+gsm8k-4"].out / "model" / "augmath_train.json").read_text())
    dataset = by_name["build"].out / "dataset"
    manifest = json.loads((dataset / "manifest.json").read_text())
    originals, part = record["dataset"]["parts"]
    assert originals["rows"] == manifest["configs"]["gsm8k-original"]["rows"] and originals["num_queries"] is None
    assert part["config"] == "gsm8k" and part["queries"] == part["num_queries"] == 4
    assert record["status"] == "complete" and record["dataset"]["num_samples"] == originals["rows"] + part["rows"]
    card = (by_name["train-tiny-gsm8k-original+gsm8k-4"].out / "model" / "README.md").read_text()
    assert "mixture `gsm8k-original` (" in card and "nested subsets by query" in card
    rows = {}
    for n in (4, 8):  # the series' data, as each stage's argv asks for it
        argv = by_name[f"train-tiny-gsm8k-original+gsm8k-{n}"].argv
        rows[n], _ = load_rows(load_recipe(argv[1], {**_data_overrides(argv), "dataset": str(dataset)}))
    assert rows[4] == rows[8][:len(rows[4])] and len(rows[8]) > len(rows[4])


# A local path: a slash that starts no URL and no relative path, followed by at least one folder; or a way out
# of the repository.
LOCAL_PATH = re.compile(r"(?<![\w:/.<>}])/(?:[\w.+-]+/)+|\.\./")


@pytest.mark.slow
def test_staged_pushes_stand_on_their_own(finished):
    """Every card and commit message of the dry-run pushes names artifacts by their Hub repo ids, never a local
    path; model cards carry their own results.json as model-index; the staged dataset loads by config."""
    from datasets import load_dataset
    from huggingface_hub import DatasetCard, ModelCard
    from safetensors import safe_open

    work = finished["work"]
    stages = {p.parent.name.rsplit("-", 1)[0]: p.parent for p in work.glob("stages/*/.stage.json")}
    pushes = {name: json.loads((folder / "push.json").read_text()) for name, folder in stages.items()
              if name.startswith("push-")}
    assert set(pushes) == {"push-build", "push-report", "push-train-tiny-gsm8k-4", "push-train-tiny-gsm8k-8"}
    local = [str(finished["root"]), str(ROOT), os.path.expanduser("~")]
    for name, plan in pushes.items():
        repo = stages[name] / "repo"
        readme = (repo / "README.md").read_text()
        for text in (plan["message"], readme):
            assert not any(p in text for p in local) and not LOCAL_PATH.search(text), (name, text)
        name = plan["repo_id"].split("/")[1]
        assert re.match(rf"augmath: {plan['kind']} {name}( v\d+\.\d+\.\d+)? \(.*\d", plan["message"])
        assert sorted(f["path"] for f in plan["files"]) == sorted(
            p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file())

    dataset = pushes["push-build"]
    assert dataset["repo_id"] == "augmath-test/augmath-tiny" and dataset["tag"] == "v0.1.0"
    repo = stages["push-build"] / "repo"
    card, manifest = DatasetCard.load(repo / "README.md"), json.loads((repo / "manifest.json").read_text())
    assert card.data.pretty_name == "augmath-tiny" and manifest["repo_id"] == dataset["repo_id"]
    assert f'load_dataset("{dataset["repo_id"]}", "gsm8k-numbers", split="train", revision="v0.1.0")' in card.text
    for config, info in manifest["configs"].items():
        assert load_dataset(str(repo), config, split="train").num_rows == info["rows"], config

    for train in ("train-tiny-gsm8k-4", "train-tiny-gsm8k-8"):
        plan, repo = pushes[f"push-{train}"], stages[f"push-{train}"] / "repo"
        assert plan["repo_id"] == f"augmath-test/tiny-e2e-{train.removeprefix('train-')}"
        card = ModelCard.load(repo / "README.md")
        assert card.data.model_name == plan["repo_id"] and card.text.lstrip().startswith(
            f"# {plan['repo_id'].split('/')[1]}\n")
        assert card.data.datasets == [dataset["repo_id"]] and "at revision `v0.1.0`" in card.text
        results = json.loads((stages[f"eval-{train}"] / "results" / "results.json").read_text())
        [result] = card.data.eval_results  # one benchmark, one metric
        score = results["tasks"]["gsm8k"]
        assert (result.dataset_type, result.dataset_config, result.dataset_split) == ("openai/gsm8k", "main", "test")
        assert (result.metric_type, result.metric_value, result.metric_args["n"]) == ("accuracy", score["accuracy"], 3)
        assert result.metric_config == results["settings"].get("profile", "lenient")
        assert result.metric_args["template"] == results["settings"]["template"]
        assert f"| GSM8K | accuracy | {score['accuracy'] * 100:.2f}% |" in card.text
        # the weights in the dtype the config chose, and the card says so
        with safe_open(repo / "model.safetensors", framework="pt") as f:
            assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"BF16"}
        assert plan["weights"] == {"dtype": "bfloat16", "cast_from": "float32"} and "bfloat16 safetensors" in card.text

    results_card = DatasetCard.load(stages["push-report"] / "repo" / "README.md").text
    for train in ("tiny-gsm8k-4", "tiny-gsm8k-8"):
        assert f"(https://huggingface.co/augmath-test/tiny-e2e-{train})" in results_card
    assert "(https://huggingface.co/datasets/augmath-test/augmath-tiny/tree/v0.1.0)" in results_card
    figures = re.findall(r"!\[[^]]*\]\(([^)]+)\)", results_card)
    assert {Path(f).name for f in figures} >= {"fit-fit_gsm8k.png", "transfer-transfer.png"}
    assert all((stages["push-report"] / "repo" / f).is_file() for f in figures)
