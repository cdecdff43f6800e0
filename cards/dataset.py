"""The dataset folder's card, for `augmath build` (kept apart so the builder stays about rows).

The card's YAML header carries what `load_dataset` and the Hub read (configs with their data files, the
explicit features and split sizes per config, licence, source datasets); the body is `cards/dataset_card.md`
rendered through `augmath.cards.render.render_card` (huggingface_hub's DatasetCard.from_template).
"""

from __future__ import annotations

from typing import Any, Sequence

import datasets
from datasets.info import DatasetInfo, DatasetInfosDict
from datasets.splits import SplitDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard, DatasetCardData

from augmath.cards.render import render_card

# Licence of each source's train split (docs/data.md names the upstream repositories); generated text derives
# from them.
LICENSES = {"gsm8k": "mit", "math": "mit"}
SOURCE_DATASETS = {"gsm8k": "openai/gsm8k", "math": "EleutherAI/hendrycks_math"}
SOURCE_NAMES = {"gsm8k": "GSM8K (Cobbe et al., 2021)", "math": "MATH (Hendrycks et al., 2021)"}
CITATION = """@inproceedings{li-etal-2024-mugglemath,
  title     = {MuggleMath: Assessing the Impact of Query and Response Augmentation on Math Reasoning},
  author    = {Li, Chengpeng and Yuan, Zheng and Yuan, Hongyi and Dong, Guanting and Lu, Keming and
               Wu, Jiancan and Tan, Chuanqi and Wang, Xiang and Zhou, Chang},
  booktitle = {Proceedings of the 62nd Annual Meeting of the Association for Computational Linguistics
               (Volume 1: Long Papers)},
  pages     = {10230--10258},
  year      = {2024},
  note      = {arXiv:2310.05506}
}"""


def _hub_config(source: str) -> str | None:
    """Which config(s) of the Hub copy the train seeds correspond to (augmath.sources.HUB), in words."""
    from augmath.sources import HUB, MATH_SUBJECTS

    repo, config, _ = HUB.get((source, "train"), (None, None, None))
    if config:
        return f"config `{config}`"
    return f"all {len(MATH_SUBJECTS)} subject configs" if repo == "EleutherAI/hendrycks_math" else None


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "1M<n<10M"


def _flatten(obj: Any, prefix: str = "", out: list | None = None, limit: int = 40) -> list[tuple[str, str]]:
    """report.json -> [("decontamination.flagged", "3"), ...]: scalars only, short lists inline, capped."""
    out = [] if out is None else out
    if isinstance(obj, dict):
        for k, v in obj.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out, limit)
    elif isinstance(obj, list) and not all(isinstance(x, (str, int, float, bool)) for x in obj):
        out.append((prefix, f"[{len(obj)} entries]"))
    elif len(out) < limit:
        value = ", ".join(map(str, obj)) if isinstance(obj, list) else obj
        out.append((prefix, f"{value:,.4g}" if isinstance(value, float) else str(value)))
    return out[:limit]


def card_data(specs: Sequence[Any], rows: dict[str, int], nbytes: dict[str, int],
              features: datasets.Features, pretty_name: str) -> DatasetCardData:
    sources = sorted({s for spec in specs for s in spec.sources})
    licenses = sorted({LICENSES.get(s, "other") for s in sources})
    data = DatasetCardData(
        language=["en"], license=licenses[0] if len(licenses) == 1 else "other", pretty_name=pretty_name,
        task_categories=["text-generation", "question-answering"], size_categories=[_size_category(rows["default"])],
        source_datasets=[SOURCE_DATASETS[s] for s in sources if s in SOURCE_DATASETS],
        tags=["math", "synthetic", "data-augmentation", "mugglemath", "augmath"],
    )
    MetadataConfigs({
        s.name: {"data_files": [{"split": "train", "path": s.path}], **({"default": True} if s.kind == "default" else {})}
        for s in specs
    }).to_dataset_card_data(data)
    DatasetInfosDict({
        s.name: DatasetInfo(features=features, splits=SplitDict.from_split_dict(
            [{"name": "train", "num_bytes": nbytes[s.name], "num_examples": rows[s.name]}], dataset_name=s.name), dataset_size=nbytes[s.name])
        for s in specs
    }).to_dataset_card_data(data)
    return data


def decontamination(report: dict) -> dict:
    """One run's decontamination from its report.json: rows checked and removed, the sets checked and not.

    `augmath augment` writes {items, decontamination: {removed: {reason: rows}, checked: [sets], missing: {set:
    why}}} (rows checked = kept + removed); hand-made reports may say {kept, decontamination: {checked: rows,
    flagged: rows, against: [sets]}}."""
    d = report.get("decontamination") or {}
    removed = d.get("removed")
    removed = sum(removed.values()) if isinstance(removed, dict) else int(d.get("flagged") or 0)
    kept = report.get("items", report.get("kept"))
    skipped = bool(d.get("skipped")) and not (kept == 0 and removed == 0)  # a run that kept no row has none to check
    checked = d["checked"] if isinstance(d.get("checked"), int) else (
        kept + removed if isinstance(kept, int) and not skipped else None)
    sets = d.get("checked") if isinstance(d.get("checked"), list) else d.get("against") or []
    return {"checked": checked, "removed": removed, "skipped": skipped,
            "rate": removed / checked if checked else None, "against": [str(s) for s in sets],
            "not_checked": sorted(map(str, d.get("missing") or []))}


def dataset_summary(rows: dict[str, int], runs: Sequence[Any], stats: dict) -> dict:
    """The headline numbers (manifest.json, the card, the push's commit message): augmented rows, how many were
    verified, and how many generated rows decontamination removed out of how many it checked."""
    augmented = sum(st["rows"] for st in stats.values())
    verified = sum(st["verified"] for st in stats.values())
    runs_decontam = [decontamination(r.report) for r in runs]
    checked = sum(d["checked"] or 0 for d in runs_decontam)
    removed = sum(d["removed"] for d in runs_decontam)
    return {"rows": rows.get("default", augmented), "augmented_rows": augmented, "verified": verified,
            "verified_rate": verified / augmented if augmented else None,
            # samples lost to endpoint failures (after retries), not rejections: `build --allow-failed-calls`
            "failed_calls": sum(int(r.report.get("failed_calls") or 0) for r in runs),
            "decontamination": {"checked": checked, "removed": removed, "rate": removed / checked if checked else None,
                                "unchecked_runs": sum(d["checked"] is None for d in runs_decontam)}}


def render_dataset_card(name: str, version: str, seed: int, specs: Sequence[Any], rows: dict[str, int],
                        nbytes: dict[str, int], sizes: dict[str, list[int]], features: datasets.Features,
                        runs: Sequence[Any], stats: dict, queries: dict[str, int], makers: list[dict],
                        paths_per_query: int | None = None, repo_id: str | None = None) -> DatasetCard:
    """specs: the builder's ConfigSpecs (name, kind, description, path, sources); runs: its RunInputs (name, rows,
    items_sha256, report); sizes: each config's nested subset sizes D_N (queries); stats: per (source, strategy)
    counts; queries: per config; makers: rows and queries per strategy x round x generator pair;
    repo_id: the Hub repository the folder will be pushed to (named in the loading code)."""
    sources = sorted({s for spec in specs for s in spec.sources})
    verification = []
    for (source, strategy), st in sorted(stats.items()):
        verification.append({
            "config": f"{source}-{strategy}", "rows": st["rows"], "verified": st["verified"],
            "verified_pct": 100.0 * st["verified"] / st["rows"],
            "mean_agreement": st["agreement_sum"] / st["agreement_n"] if st["agreement_n"] else None,
            "methods": ", ".join(f"{m} ({n})" for m, n in sorted(st["methods"].items())),
        })
    prompts = [{"config": f"{src}-{strat}", "generator": gen, "prompt_hash": ph, "rows": n}
               for (src, strat), st in sorted(stats.items()) for (gen, ph), n in sorted(st["prompts"].items())]
    licenses = {s: LICENSES.get(s, "unknown") for s in sources}
    seeds_used = {s: rows[f"{s}-original"] for s in sources if f"{s}-original" in rows}
    return render_card(
        "dataset", "dataset_card", card_data(specs, rows, nbytes, features, pretty_name=name),
        name=name, version=version, seed=seed, repo=repo_id or f"<org>/{name}", published=bool(repo_id),
        configs=[{"name": s.name, "kind": s.kind, "description": s.description, "rows": rows[s.name],
                  "queries": queries[s.name], "file": s.path, "sizes": sizes[s.name]} for s in specs],
        makers=makers, paths_per_query=paths_per_query,
        example_config=next((s.name for s in specs if s.kind == "strategy"), "default"),
        features=[(k, getattr(v, "dtype", type(v).__name__)) for k, v in features.items()],
        verification=verification, prompts=prompts, summary=dataset_summary(rows, runs, stats),
        generators=sorted({p["generator"] for p in prompts}
                          | {m[k] for m in makers for k in ("query_generator", "response_generator")}),
        runs=[{"name": r.name, "rows": r.rows, "items_sha256": r.items_sha256,
               "decontamination": decontamination(r.report),  # its own table, so left out of the other figures
               "report": _flatten({k: v for k, v in r.report.items() if k != "decontamination"})} for r in runs],
        sources=[{"name": s, "title": SOURCE_NAMES.get(s, s), "license": licenses[s],
                  "hub": SOURCE_DATASETS.get(s, ""), "config": _hub_config(s), "seeds": seeds_used.get(s)}
                 for s in sources],
        license_summary=", ".join(sorted(set(licenses.values()))).upper(),
        citation=CITATION,
    )
