"""`augmath fit`: parameters recovered from synthetic data with known truth; degenerate input; the CLI on
results folders shaped like `augmath eval`'s."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from analysis_fixtures import trained, write_results
from augmath.cli import main
from augmath.analysis.fit import FitError, Point, fit_points
from augmath.io import DataError
from augmath.analysis.results import load_results


def bernoulli_points(ns, accuracy_of, n_items=20000, seed=1, shared_items=True):
    """Points whose per-item correctness is drawn from Bernoulli(accuracy_of(N)): real sampling noise."""
    rng = np.random.default_rng(seed)
    points = []
    for i, n in enumerate(ns):
        correct = rng.random(n_items) < accuracy_of(n)
        keys = [f"item{j}" if shared_items else f"p{i}-item{j}" for j in range(n_items)]
        points.append(Point(float(n), float(correct.mean()), n_items, correct, keys, f"synthetic/N={n}"))
    return points


def loglinear(a, b):
    return lambda n: a + b * math.log(n)


def segmented(a, b1, b2, n_break):
    c = math.log(n_break)
    return lambda n: a + b1 * math.log(n) + (b2 - b1) * max(0.0, math.log(n) - c)


NS = [250, 500, 1000, 2000, 4000, 8000, 16000]


def test_loglinear_truth_recovered_and_selected():
    fit = fit_points(bernoulli_points(NS[:6], loglinear(0.05, 0.04)), resamples=400)
    m = fit["models"]["loglinear"]
    assert fit["selected"] == "loglinear"
    assert m["params"]["b"] == pytest.approx(0.04, abs=0.004)
    assert m["params"]["a"] == pytest.approx(0.05, abs=0.03)
    assert m["ci"]["b"][0] <= 0.04 <= m["ci"]["b"][1]
    assert fit["bootstrap"]["scheme"] == "paired"
    assert m["loo_rmse"] is not None and m["dof"] == 4


def test_segmented_truth_recovered_and_selected():
    truth = segmented(0.05, 0.02, 0.08, 2000)
    fit = fit_points(bernoulli_points(NS, truth), resamples=400)
    m = fit["models"]["segmented"]
    assert fit["selected"] == "segmented", fit["selection"]
    assert fit["selection"]["delta_bic"] < -2
    assert m["params"]["b1"] == pytest.approx(0.02, abs=0.008)
    assert m["params"]["b2"] == pytest.approx(0.08, abs=0.008)
    assert m["params"]["breakpoint_n"] == pytest.approx(2000, rel=0.25)
    lo, hi = m["ci"]["breakpoint_n"]
    assert lo <= 2000 <= hi and lo > 500 and hi < 8000
    # the curve for plotting follows the selected model and its band contains the fit
    curve = fit["curve"]
    assert curve["model"] == "segmented" and curve["other_model"] == "loglinear"
    assert all(lo <= f <= hi for lo, f, hi in zip(curve["lo"], curve["fit"], curve["hi"]))


def test_breakpoint_keeps_two_points_strictly_on_each_side():
    # a kink only at the last point must not be "found" by fitting that point exactly
    truth = lambda n: 0.1 + 0.03 * math.log(n) + (0.3 if n == NS[-1] else 0.0)  # noqa: E731
    fit = fit_points(bernoulli_points(NS, truth), resamples=100)
    c = fit["models"]["segmented"]["params"]["breakpoint_n"]
    assert NS[1] < c < NS[-2]


def test_target_n_predicted_with_interval_and_extrapolation_flag():
    a, b = 0.05, 0.04
    fit = fit_points(bernoulli_points(NS[:5], loglinear(a, b)), target=0.5, resamples=400)
    t = fit["target"]
    expected = math.exp((0.5 - a) / b)  # ~76,000: beyond the largest N (4,000)
    assert t["n"] == pytest.approx(expected, rel=0.35)
    assert t["extrapolated"] is True and "extrapolated" in t["note"]
    assert t["ci"][0] < t["n"] < t["ci"][1]
    inside = fit_points(bernoulli_points(NS[:5], loglinear(a, b)), target=0.35, resamples=200)["target"]
    assert inside["extrapolated"] is False and NS[0] <= inside["n"] <= NS[4]


def test_paired_bootstrap_uses_the_shared_test_set():
    # nested correctness (what a model gets right at small N it keeps at larger N): differences between points
    # are far less noisy than the points themselves, and only a paired bootstrap sees that
    base = np.random.default_rng(3).random(2000)
    def pts(shared):
        return [Point(float(n), float((base < p).mean()), 2000, base < p,
                      [f"k{j}" if shared else f"{n}-{j}" for j in range(2000)], "x")
                for n, p in zip(NS[:4], [0.2, 0.25, 0.3, 0.35])]
    paired, indep = fit_points(pts(True), resamples=400), fit_points(pts(False), resamples=400)
    assert paired["bootstrap"]["scheme"] == "paired" and indep["bootstrap"]["scheme"] == "independent"
    width = lambda f: f["models"]["loglinear"]["ci"]["b"][1] - f["models"]["loglinear"]["ci"]["b"][0]  # noqa: E731
    assert width(paired) < 0.75 * width(indep)  # measured ratio ~0.58 here


def test_one_point_is_an_error():
    with pytest.raises(FitError, match="two or more distinct N"):
        fit_points(bernoulli_points([1000], loglinear(0.1, 0.01)))


def test_all_equal_n_is_an_error():
    with pytest.raises(FitError, match="same N=1000"):
        fit_points(bernoulli_points([1000, 1000, 1000], loglinear(0.1, 0.01)))


def test_zero_accuracy_is_a_flagged_flat_fit():
    fit = fit_points(bernoulli_points([500, 1000, 2000], lambda n: 0.0), target=0.3, resamples=50)
    assert fit["models"]["loglinear"]["params"]["b"] == 0
    assert any(f.startswith("flat") for f in fit["flags"])
    assert fit["target"]["n"] is None and "never reaches" in fit["target"]["note"]
    assert fit["target"]["reachable_fraction"] == 0


def test_small_inputs_are_flagged_not_overfitted():
    two = fit_points(bernoulli_points([500, 2000], loglinear(0.1, 0.02)), resamples=50)
    assert any("two distinct N" in f for f in two["flags"])
    three = fit_points(bernoulli_points([500, 1000, 2000], loglinear(0.1, 0.02)), resamples=50)
    assert three["models"]["segmented"] == {"fitted": False, "reason": "needs at least 4 distinct N (two per piece)"}
    assert three["selected"] == "loglinear" and "not comparable" in three["selection"]["reason"]


def test_bad_target_is_an_error():
    with pytest.raises(FitError, match="outside"):
        fit_points(bernoulli_points([500, 1000], loglinear(0.1, 0.02)), target=1.5)


def _scaling_folders(tmp_path, ns=(1000, 2000, 4000, 8000), config="gsm8k"):
    out = []
    for i, n in enumerate(ns):
        acc = 0.1 + 0.05 * math.log(n / 1000)
        out.append(write_results(tmp_path / f"{config}-{n}", accuracies={"gsm8k": acc, "svamp": acc / 2},
                                 provenance=trained(config, n, "gsm8k", None)))
    return out


def test_cli_writes_json_and_plots(tmp_path, capsys):
    folders = _scaling_folders(tmp_path)
    folders.append(write_results(tmp_path / "orig", accuracies={"gsm8k": 0.12, "svamp": 0.06},
                                 provenance=trained("gsm8k-original", 7473, "gsm8k", "original")))
    out = tmp_path / "fit"
    rc = main(["fit", *map(str, folders), "--out", str(out), "--target-acc", "0.3", "--resamples", "200"])
    assert rc == 0
    doc = json.loads((out / "fit.json").read_text())
    assert doc["schema"] == "augmath.analysis.fit/2"
    assert {f["task"] for f in doc["fits"]} == {"gsm8k", "svamp"}
    assert doc["skipped"][0]["series"] == "gsm8k-original"
    g = next(f for f in doc["fits"] if f["task"] == "gsm8k")
    assert g["models"]["loglinear"]["params"]["b"] == pytest.approx(0.05, abs=0.01)
    assert g["target"]["value"] == 0.3 and g["target"]["n"] > 8000 and g["metric"] == "accuracy"
    assert [p["n_train"] for p in g["points"]] == [1000, 2000, 4000, 8000]
    for png in doc["plots"].values():
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "skipped  gsm8k-original" in capsys.readouterr().out


def test_cli_only_task(tmp_path):
    out = tmp_path / "fit"
    assert main(["fit", *map(str, _scaling_folders(tmp_path)), "--out", str(out), "--task", "svamp",
                 "--resamples", "50"]) == 0
    assert [f["task"] for f in json.loads((out / "fit.json").read_text())["fits"]] == ["svamp"]


@pytest.mark.parametrize("n_train, message", [(0, "N must be > 0"), (-5, "N must be > 0"), (None, "is missing"),
                                              ("many", "positive number")])
def test_bad_n_names_file_and_field(tmp_path, capsys, n_train, message):
    folders = _scaling_folders(tmp_path, ns=(1000, 2000))
    prov = trained("gsm8k", 1, "gsm8k", None)
    prov["n_train"] = n_train
    folders.append(write_results(tmp_path / "bad", accuracies={"gsm8k": 0.2}, provenance=prov))
    assert main(["fit", *map(str, folders), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "bad" / "results.json") in err and "provenance.n_train" in err and message in err


def test_details_that_disagree_with_results_json_are_refused(tmp_path):
    folder = _scaling_folders(tmp_path, ns=(1000,))[0]
    details = folder / "details" / "gsm8k.jsonl"
    rows = [json.loads(line) for line in details.read_text().splitlines()]
    rows[0]["correct"] = not rows[0]["correct"]
    details.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match="mean of 'correct'"):
        load_results(folder).correct("gsm8k")
    rows[1]["correct"] = "yes"
    details.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=r"gsm8k.jsonl:2: field 'correct'"):
        load_results(folder).correct("gsm8k")


def test_single_amount_only_is_a_clear_error(tmp_path, capsys):
    folders = _scaling_folders(tmp_path, ns=(1000,))
    assert main(["fit", *map(str, folders), "--out", str(tmp_path / "o")]) == 2
    assert "single data amount" in capsys.readouterr().err


def test_not_a_results_folder(tmp_path, capsys):
    assert main(["fit", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert f"{tmp_path}: not a results folder" in capsys.readouterr().err


# ------------------------------------------------------------------ bits per byte (the likelihood tasks)

def _bpb_folders(tmp_path, ns=(2, 4, 8, 16), start=0.95, slope=-0.06, config="gsm8k-numbers", nested=True):
    """Bits per byte falling log-linearly in N, per item around a fixed difficulty (nested: shared items)."""
    return [write_results(tmp_path / f"{config}-{n}", accuracies={}, seed=i, nested=nested,
                          bpb={"gsm8k_bpb": start + slope * math.log(n), "svamp_bpb": 1.2 + slope / 3 * math.log(n)},
                          provenance=trained(config, n, "gsm8k", config.partition("-")[2] or None))
            for i, n in enumerate(ns)]


def test_bpb_fit_falls_with_n_and_predicts_the_n_for_a_target(tmp_path, capsys):
    folders = _bpb_folders(tmp_path)
    out = tmp_path / "fit"
    assert main(["fit", *map(str, folders), "--out", str(out), "--target-bpb", "0.7", "--resamples", "300"]) == 0
    doc = json.loads((out / "fit.json").read_text())
    g = next(f for f in doc["fits"] if f["task"] == "gsm8k_bpb")
    assert g["metric"] == "bpb" and g["higher_is_better"] is False and g["bootstrap"]["scheme"] == "paired"
    lin = g["models"]["loglinear"]
    assert lin["params"]["b"] == pytest.approx(-0.06, abs=0.01) and lin["ci"]["b"][1] < 0
    assert [p["value"] for p in g["points"]] == pytest.approx([0.95 - 0.06 * math.log(n) for n in (2, 4, 8, 16)])
    # the change from the smallest to the largest N, paired over the same items: far outside its interval
    change = g["change"]
    assert change["difference"] == pytest.approx(-0.06 * math.log(8), abs=1e-9)
    assert change["ci"][1] < 0 and change["ci"][1] - change["ci"][0] < abs(change["difference"]) / 2
    # a fall to 0.7 bits/byte: N = exp((0.7 - a) / b) ~ 64, beyond the measured 16
    t = g["target"]
    assert t["value"] == 0.7 and t["n"] == pytest.approx(math.exp((0.7 - 0.95) / -0.06), rel=0.2)
    assert t["extrapolated"] is True and t["ci"][0] < t["n"] < t["ci"][1]
    assert "bits/byte 0.7" in capsys.readouterr().out
    assert doc["targets"] == {"accuracy": None, "bpb": 0.7}
    # no floor/ceiling flags for bits per byte
    assert not any("floor" in f or "ceiling" in f for f in g["flags"])


def test_bpb_that_rises_with_n_never_falls_to_a_target():
    fit = fit_points([Point(float(n), v, 3, np.array([v, v + 0.01, v - 0.01]), ["a", "b", "c"], "x", "bpb")
                      for n, v in ((2, 0.8), (4, 0.85), (8, 0.9))], target=0.5, resamples=50)
    assert fit["target"]["n"] is None and "fall" in fit["target"]["note"]
    with pytest.raises(FitError, match="must be > 0"):
        fit_points([Point(2.0, 0.9, 1, np.array([0.9]), ["a"], "x", "bpb"),
                    Point(4.0, 0.8, 1, np.array([0.8]), ["a"], "x", "bpb")], target=-1)


def test_bpb_independent_items_are_resampled_per_point(tmp_path):
    folders = _bpb_folders(tmp_path, nested=False)
    for i, f in enumerate(folders):  # a different item key set per folder: no pairing possible
        path = f / "details" / "gsm8k_bpb.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        path.write_text("".join(json.dumps({**r, "id": f"{i}-{r['id']}"}) + "\n" for r in rows))
    out = tmp_path / "fit"
    assert main(["fit", *map(str, folders), "--out", str(out), "--task", "gsm8k_bpb", "--resamples", "200"]) == 0
    g = json.loads((out / "fit.json").read_text())["fits"][0]
    assert g["bootstrap"]["scheme"] == "independent"
    lo, hi = g["points"][0]["ci"]
    assert lo < g["points"][0]["value"] < hi and hi - lo > 0.01  # a real interval, not a binomial of a non-0/1 score


def test_bpb_plot_axis_is_bits_per_byte_and_accuracy_axis_is_percent(tmp_path, monkeypatch):
    from augmath.analysis import plots

    drawn = {}
    monkeypatch.setattr(plots, "_save", lambda fig, path: drawn.setdefault(path.name, fig))
    from augmath.analysis.fit import fit_results

    fit_results(list(map(str, _bpb_folders(tmp_path / "b"))) + list(map(str, _scaling_folders(tmp_path / "a"))),
                tmp_path / "fit", resamples=50)
    bpb_ax, acc_ax = drawn["fit_gsm8k_bpb.png"].axes[0], drawn["fit_gsm8k.png"].axes[0]
    assert bpb_ax.get_ylabel().startswith("bits per byte") and acc_ax.get_ylabel() == "accuracy (%)"
    bpb_y = bpb_ax.lines[0].get_ydata()  # the measured points (errorbar's line)
    acc_y = acc_ax.lines[0].get_ydata()
    assert list(bpb_y) == pytest.approx([0.95 - 0.06 * math.log(n) for n in (2, 4, 8, 16)])
    # accuracy is stored as a fraction and drawn in percent, as the axis says
    assert list(acc_y) == pytest.approx([100 * (0.1 + 0.05 * math.log(n / 1000)) for n in (1000, 2000, 4000, 8000)],
                                        abs=0.5)
