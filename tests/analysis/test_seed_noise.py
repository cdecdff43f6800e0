"""Training-seed noise in the analysis: the seeds x items bootstrap (augmath.stats), and the equal-N
comparisons, the fit, the transfer matrix and the report reading several seeds of one configuration as one."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from analysis_fixtures import DEMO_BASE, trained, write_results
from augmath.analysis.findings import equal_n_comparisons
from augmath.analysis.results import load_many
from augmath.stats import paired_difference, seeded_difference, seeded_means
from augmath.io import DataError


def test_one_seed_is_the_paired_item_bootstrap_exactly():
    rng = np.random.default_rng(3)
    a, b = rng.normal(1.0, 0.2, 50), rng.normal(1.05, 0.2, 50)
    old, new = paired_difference(a, b, resamples=500), seeded_difference(a[None], b[None], resamples=500)
    assert new["ci"] == pytest.approx(old["ci"], abs=1e-12) and new["difference"] == pytest.approx(old["difference"])
    assert new["seed_sd"] == 0.0 and new["sd"] == pytest.approx(new["item_sd"])


def _study(rng, seed_sd, diff, seeds=3, items=60, item_sd=0.3, noise=0.02):
    """Two configurations scored on the same items: item difficulty shared, a per-seed offset, per-run noise."""
    difficulty = rng.normal(1.0, item_sd, items)
    make = lambda shift: np.stack([difficulty + shift + rng.normal(0, seed_sd) + rng.normal(0, noise, items)  # noqa: E731
                                   for _ in range(seeds)])
    return make(diff), make(0.0)


@pytest.mark.parametrize("seed_sd, diff, verdict_items_only, verdict_combined", [
    (0.00, -0.05, True, True),    # no seed noise: both see a 0.05 difference on 60 paired items
    # seed noise larger than the difference: the item interval "finds" +0.024 (the wrong sign: these 3 seeds'
    # offsets), the combined one cannot tell
    (0.10, -0.05, True, False),
    (0.01, -0.20, True, True),    # a difference far above both noises: both see it
])
def test_seed_noise_widens_the_interval_and_withholds_the_verdict(seed_sd, diff, verdict_items_only,
                                                                   verdict_combined):
    a, b = _study(np.random.default_rng(0), seed_sd, diff)
    d = seeded_difference(a, b, resamples=1000)
    items_only = paired_difference(a.mean(axis=0), b.mean(axis=0), resamples=1000)
    assert items_only["excludes_zero"] is verdict_items_only
    assert d["excludes_zero"] is verdict_combined
    assert d["seeds"] == [3, 3] and d["mdd"] == pytest.approx(2.8016 * d["sd"])
    if seed_sd >= 0.05:
        assert d["seed_sd"] > 3 * d["item_sd"]  # measured ~20x at these sizes


def test_the_combined_interval_covers_the_true_difference_where_items_alone_do_not():
    """Coverage over 100 simulated jobs with 3 seeds whose offsets (sd 0.05) dominate 60 paired items."""
    rng = np.random.default_rng(5)
    cover_combined = cover_items = 0
    for _ in range(100):
        a, b = _study(rng, 0.05, 0.0)
        lo, hi = seeded_difference(a, b, resamples=200, seed=int(rng.integers(1 << 30)))["ci"]
        cover_combined += lo <= 0 <= hi
        lo, hi = paired_difference(a.mean(axis=0), b.mean(axis=0), resamples=200)["ci"]
        cover_items += lo <= 0 <= hi
    # measured here: combined 0.84 (3 seeds: the seed level's bootstrap is narrow by about sqrt(2/3)), items 0.04
    assert cover_combined / 100 > 0.75 and cover_items / 100 < 0.2


def test_seeded_means_resample_only_the_levels_asked_for():
    table = np.array([[1.0, 2.0, 3.0], [2.0, 3.0, 4.0]])  # seed 2 is one higher on every item
    rng = np.random.default_rng(0)
    assert np.allclose(seeded_means([table], 50, rng, levels=()), 2.5)
    seeds_only = seeded_means([table], 400, rng, levels=("seeds",))[0]
    assert set(np.round(seeds_only, 6)) == {2.0, 2.5, 3.0}  # the mean of the 2 seeds' means, drawn with replacement


# ------------------------------------------------------------------ folders: comparisons, fit, transfer, report

def _seeded_folders(tmp_path, seeds=(0, 1, 2), offsets=(0.0, 0.06, -0.06)):
    """numbers at N = 2, 4, 8 and original at N = 8, three seeds each; each seed shifts the whole model by an
    offset (training-seed noise), the items carry their own noise."""
    folders = []
    for s, off in zip(seeds, offsets):
        for n in (2, 4, 8):
            folders.append(write_results(
                tmp_path / f"numbers-{n}-s{s}", accuracies={}, seed=10 * n + s,
                bpb={"gsm8k_bpb": 0.95 - 0.06 * math.log(n) + off, "svamp_bpb": 1.3 + off},
                provenance={**trained("gsm8k-numbers", n, "gsm8k", "numbers"), "seed": s}))
        folders.append(write_results(
            tmp_path / f"orig-8-s{s}", accuracies={}, seed=100 + s,
            bpb={"gsm8k_bpb": 0.95 - 0.06 * math.log(8) + 0.03 - off, "svamp_bpb": 1.3 - off},
            provenance={**trained("gsm8k-original", 8, "gsm8k", "original"), "seed": s}))
    return folders


def test_comparisons_read_the_seeds_of_a_configuration_as_one_row(tmp_path):
    rows = equal_n_comparisons(load_many(_seeded_folders(tmp_path)), resamples=500)
    by = {(r["label"], r["task"]): r for r in rows}
    numbers = by[("AugGSM8K: numbers", "gsm8k_bpb")]
    assert numbers["seeds"] == [0, 1, 2] and len(numbers["results"]) == 3 and numbers["n_train"] == 8
    d = numbers["delta"]
    assert d["difference"] == pytest.approx(-0.03, abs=1e-9)  # the seed offsets cancel in the mean
    # the seed offsets (±0.06, and opposite in the original) dwarf the item noise: the job cannot tell
    assert d["seed_sd"] > 2 * d["item_sd"] and numbers["verdict"] == "cannot tell"
    assert d["ci"][0] < -0.03 - 2 * d["item_sd"]  # wider than the items alone would make it


def test_the_same_seed_twice_is_refused(tmp_path):
    folders = _seeded_folders(tmp_path, seeds=(0, 0, 1))
    with pytest.raises(DataError, match="same configuration with the same seed 0"):
        equal_n_comparisons(load_many(folders), resamples=50)


def test_fit_averages_the_seeds_of_each_n_and_resamples_them(tmp_path):
    from augmath.analysis.fit import fit_results

    doc = fit_results([f for f in _seeded_folders(tmp_path) if "numbers" in f.name], tmp_path / "fit",
                      task="gsm8k_bpb", resamples=300)
    fit, = doc["fits"]
    assert fit["bootstrap"]["scheme"] == "paired, seeds x items"
    assert [p["n_train"] for p in fit["points"]] == [2, 4, 8] and fit["points"][0]["seeds"] == [0, 1, 2]
    assert fit["points"][0]["value"] == pytest.approx(0.95 - 0.06 * math.log(2), abs=1e-9)
    # the per-seed offsets are shared by every N of a seed, so the change from N=2 stays paired and clear
    assert fit["change"]["difference"] == pytest.approx(-0.06 * math.log(4), abs=1e-9)


def test_transfer_has_one_row_per_configuration_and_a_transfer_index(tmp_path):
    from augmath.analysis.transfer import build_matrix

    matrix = build_matrix(load_many(_seeded_folders(tmp_path)), all_n=True)
    rows = {(r["label"].split(" (N=")[0], r["n_train"]): r for r in matrix["rows"]}
    assert rows[("AugGSM8K: numbers", 8)]["seeds"] == [0, 1, 2]
    cell = rows[("AugGSM8K: numbers", 8)]["cells"]["gsm8k"]
    assert cell["seeds"] == 3 and cell["seed_sd"] > cell["item_sd"]
    index, = [x for x in matrix["transfer_index"] if x["n_train"] == 8]
    # in-domain: -0.03 against the original; SVAMP: 0.0 on average -> none of it carries over
    assert index["in_domain_change"] == pytest.approx(-0.03, abs=1e-9)
    assert index["cross_domain_change"] == pytest.approx(0.0, abs=1e-9) and index["index"] == pytest.approx(0.0, abs=1e-6)
    assert index["seeds"] == [3, 3] and not index["defined"]  # -0.03 is inside the seed noise


def test_transfer_index_of_a_clear_in_domain_gain(tmp_path):
    from augmath.analysis.transfer import build_matrix, index_markdown

    folders = []
    for label, gsm, svamp in (("numbers", 0.80, 1.25), ("original", 0.90, 1.30)):
        folders.append(write_results(tmp_path / label, accuracies={}, seed=1 if label == "numbers" else 2,
                                     bpb={"gsm8k_bpb": gsm, "svamp_bpb": svamp},
                                     provenance=trained(f"gsm8k-{label}", 8, "gsm8k", label)))
    index, = build_matrix(load_many(folders))["transfer_index"]
    assert index["index"] == pytest.approx(0.5, abs=1e-6) and index["defined"]  # -0.05 over -0.10
    assert index["ci"][0] < 0.5 < index["ci"][1]
    assert "| AugGSM8K: numbers | 8 | 1 | -0.100" in index_markdown([index])


def test_the_report_shows_the_noise_table(tmp_path):
    from augmath.analysis.report import write_report

    md = write_report(tmp_path / "report", _seeded_folders(tmp_path)).read_text()
    assert "## Noise: training seeds, evaluation items, and what this job could detect" in md
    summary = json.loads((tmp_path / "report" / "report.json").read_text())
    noise = {r["task"]: r for r in summary["noise"]}
    assert noise["gsm8k_bpb"]["seeds"] == 3 and noise["gsm8k_bpb"]["seed_sd"] > noise["gsm8k_bpb"]["item_sd"]
    assert noise["gsm8k_bpb"]["mdd"] > abs(-0.03)  # this job could not have seen its own difference
    assert "| AugGSM8K: numbers | 3 | gsm8k_bpb | in-domain |" in md
    assert "Normalised transfer index" in md
    assert "Intervals: bootstrap over training seeds and evaluation items" in md  # the fit section says so too
    from augmath.analysis.report import render_results_card

    card = str(render_results_card(tmp_path / "report"))
    assert "### Noise and the smallest detectable difference" in card
    assert "Intervals are bootstrap intervals over training seeds and evaluation items" in card
