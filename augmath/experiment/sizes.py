"""How big each stage of an experiment is, for `augmath experiment CONFIG --plan`.

The rows (and queries) each train stage trains on, the items each eval stage generates for.

Rows are counted by the training code itself (`augmath.training.data.load_rows` on the recipe each train stage's
argv makes), so the plan cannot disagree with the run. They need the dataset: a prebuilt folder
(`dataset.path`) or a finished build stage; before that the plan shows the queries the config asks for.
Items come from the benchmark registry and the data folder: the full test sets' sizes (which `augmath.sources`
checks a local copy against) or the packaged samples', capped by `eval.max_samples`.
"""

from __future__ import annotations

from pathlib import Path

from augmath.evalsets import BENCHMARKS, benchmark_of
from augmath.io import DataError
from augmath.experiment.stages import Stage, is_done

PLACEHOLDERS = {"model_name_or_path": "base", "output_dir": "out"}  # checked by the recipe, never read


def stage_sizes(cfg, stages: list[Stage]) -> dict[str, str]:
    """Stage name -> a short description of its size (train and eval stages only)."""
    by_name = {s.name: s for s in stages}
    dataset = _dataset_folder(cfg, by_name.get("build"))
    sizes = {}
    for st in stages:
        if st.kind == "train":
            sizes[st.name] = _train_size(st, dataset)
        elif st.kind == "eval":
            sizes[st.name] = _eval_size(st, cfg.data_dir)
        elif st.kind == "augment":  # requests and tokens before any call (augmath.augment.plan)
            from augmath.augment.plan import stage_line

            sizes[st.name] = stage_line([a.replace("{out}", str(st.out)) for a in st.argv[1:]])
    return sizes


def _dataset_folder(cfg, build: Stage | None) -> Path | None:
    if cfg.dataset.path:
        from augmath.experiment.prebuilt import resolve_path

        folder = resolve_path(cfg.dataset.path)
        return folder if (folder / "manifest.json").is_file() else None
    return build.out / "dataset" if build is not None and is_done(build) else None


def _train_size(st: Stage, dataset: Path | None) -> str:
    from augmath.training.config import load_recipe, parse_overrides

    pairs = st.argv[2:]  # --key value pairs; those naming another stage's folder are set below
    keys = parse_overrides([x for k, v in zip(pairs[::2], pairs[1::2])
                            if "{dep:" not in v and "{out}" not in v for x in (k, v)])
    if dataset is None:
        parts = keys.get("dataset_parts") or [{"config": keys.get("dataset_config"),
                                               "num_queries": keys.get("num_queries")}]
        asked = " + ".join(f"{p['config']} {p['num_queries']:,}" if p.get("num_queries") else f"{p['config']} all"
                           for p in parts)
        return f"queries: {asked} (rows: once the dataset exists)"
    import datasets

    from augmath.training.data import load_rows

    datasets.disable_progress_bars()  # a plan is a list, not a progress display
    cfg = load_recipe(st.argv[1], {**keys, **PLACEHOLDERS, "dataset": str(dataset)})
    try:
        rows, about = load_rows(cfg)
    except (DataError, ValueError) as e:
        return f"cannot take these rows: {e}"
    parts = " + ".join(f"{p['config']} {p['queries']:,}q/{p['rows']:,}r" for p in about["parts"])
    return f"{len(rows):,} rows x {cfg.num_train_epochs:g} epoch(s) ({parts})"


def _eval_size(st: Stage, data_dir: str | None) -> str:
    from augmath.eval_tasks.inputs import parse_max_samples

    argv = st.argv
    tasks = argv[argv.index("--tasks") + 1].split(",")
    # `augmath eval`'s own reading of --max-samples: N for every task, or per task (gsm8k_bpb=14,...)
    default, per_task = parse_max_samples(argv[argv.index("--max-samples") + 1] if "--max-samples" in argv
                                          else None, tasks)
    counts = {t: _test_items(t, data_dir) for t in tasks}
    caps = {t: per_task.get(t, None if per_task else default) for t in tasks}
    counts = {t: n if caps[t] is None else min(n, caps[t]) for t, n in counts.items()}
    return f"{sum(counts.values()):,} items (" + ", ".join(f"{t} {n:,}" for t, n in counts.items()) + ")"


def _test_items(task: str, data_dir: str | None) -> int:
    from augmath import sources

    bench = BENCHMARKS[benchmark_of(task)]  # gsm8k_bpb scores gsm8k's test items
    if data_dir == sources.PACKAGED:
        return len(sources.load(bench.source, bench.split, data_dir=sources.PACKAGED))
    return sources.FILES[(bench.source, bench.split)][1]  # a full local copy must have exactly this many
