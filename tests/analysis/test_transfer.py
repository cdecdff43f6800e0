"""`augmath transfer`: rows from provenance, in-domain marks, deltas vs original, the four artifacts."""

from __future__ import annotations

import csv
import json

import pytest

from analysis_fixtures import DEMO_BASE, trained, write_results
from augmath.cli import main
from augmath.io import DataError
from augmath.analysis.results import load_results
from augmath.analysis.transfer import build_matrix, classify, write_transfer

BASE = {"gsm8k": 0.05, "math": 0.02, "math500": 0.02, "svamp": 0.10}


def _experiment(tmp_path):
    """A small transfer study: base model, GSM8K original + two strategies + all, MATH original + all, a mixture."""
    spec = {
        "base": (None, {}),
        "g-orig": (trained("gsm8k-original", 7473, "gsm8k", "original"), {"gsm8k": 0.06}),
        "g-reverse": (trained("gsm8k-reverse", 4000, "gsm8k", "reverse"), {"gsm8k": 0.12, "math": 0.01}),
        "g-numbers": (trained("gsm8k-numbers", 4000, "gsm8k", "numbers"), {"gsm8k": 0.09}),
        "g-all-small": (trained("gsm8k", 2000, "gsm8k", None), {"gsm8k": 0.10}),
        "g-all": (trained("gsm8k", 8000, "gsm8k", None), {"gsm8k": 0.20, "svamp": 0.04}),
        "m-orig": (trained("math-original", 7500, "math", "original"), {"math": 0.03, "math500": 0.025}),
        "m-all": (trained("math", 8000, "math", None), {"math": 0.08, "math500": 0.06}),
        "mix": (trained("default", 16000, "gsm8k+math", None), {"gsm8k": 0.18, "math": 0.07, "math500": 0.05}),
    }
    folders = {}
    for name, (prov, bump) in spec.items():
        accs = {t: a + bump.get(t, 0.0) for t, a in BASE.items()}
        folders[name] = write_results(tmp_path / name, accuracies=accs, provenance=prov, model=DEMO_BASE if prov is None
                                      else None)
    return folders


@pytest.mark.parametrize("prov, kind, label", [
    (None, "base", "base model (no fine-tuning)"),
    (trained("gsm8k-original", 10, "gsm8k", "original"), "original", "GSM8K original"),
    (trained("gsm8k-reverse", 10, "gsm8k", "reverse"), "strategy", "AugGSM8K: reverse"),
    (trained("math-complexity", 10, None, None), "strategy", "AugMATH: complexity"),  # from the config name alone
    (trained("gsm8k", 10, "gsm8k", None), "all", "AugGSM8K"),
    (trained("math", 10, "math", None), "all", "AugMATH"),
    (trained("default", 10, None, None), "mixture", "AugGSM8K + AugMATH"),
    (trained("default", 10, ["math", "gsm8k"], "reverse"), "mixture", "AugGSM8K + AugMATH: reverse"),
])
def test_rows_classified_from_provenance(tmp_path, prov, kind, label):
    folder = write_results(tmp_path / "r", accuracies={"gsm8k": 0.1}, provenance=prov)
    info = classify(load_results(folder))
    assert (info["kind"], info["label"]) == (kind, label)


def test_matrix_in_domain_deltas_and_largest_n(tmp_path):
    folders = _experiment(tmp_path)
    matrix = build_matrix([load_results(p) for p in folders.values()])
    assert matrix["columns"] == ["gsm8k", "math", "math500", "svamp"]
    rows = {r["label"]: r for r in matrix["rows"]}
    assert [r["label"] for r in matrix["rows"]] == [
        "base model (no fine-tuning)", "GSM8K original", "AugGSM8K: numbers", "AugGSM8K: reverse", "AugGSM8K",
        "MATH original", "AugMATH", "AugGSM8K + AugMATH"]
    in_domain = {label: [t for t, c in r["cells"].items() if c["in_domain"]] for label, r in rows.items()}
    assert in_domain["base model (no fine-tuning)"] == []
    assert in_domain["AugGSM8K: reverse"] == ["gsm8k"]
    assert in_domain["AugMATH"] == ["math", "math500"]
    assert in_domain["AugGSM8K + AugMATH"] == ["gsm8k", "math", "math500"]
    assert rows["AugGSM8K"]["n_train"] == 8000  # the N=2000 folder of the same data is left to the fit
    reverse = rows["AugGSM8K: reverse"]
    assert reverse["delta_vs"] == "GSM8K original"
    assert reverse["cells"]["gsm8k"]["delta"] == pytest.approx(0.17 - 0.11, abs=1e-9)
    assert reverse["cells"]["math"]["delta"] == pytest.approx(0.01, abs=1e-9)
    assert rows["AugMATH"]["cells"]["math500"]["delta"] == pytest.approx(0.035, abs=1e-9)
    assert "delta_vs" not in rows["AugGSM8K + AugMATH"]  # no mixture original to compare with


def test_all_n_keeps_every_amount(tmp_path):
    folders = _experiment(tmp_path)
    matrix = build_matrix([load_results(p) for p in folders.values()], all_n=True)
    labels = [r["label"] for r in matrix["rows"]]
    assert "AugGSM8K (N=2000)" in labels and "AugGSM8K (N=8000)" in labels and "AugMATH" in labels


def test_duplicate_row_is_an_error(tmp_path):
    folders = _experiment(tmp_path)
    twin = write_results(tmp_path / "twin", accuracies={"gsm8k": 0.3}, provenance=trained("math", 8000, "math", None))
    with pytest.raises(DataError, match=r"both 'AugMATH' at N=8000"):
        build_matrix([load_results(p) for p in [*folders.values(), twin]])


def test_artifacts_written_and_consistent(tmp_path):
    folders = _experiment(tmp_path)
    out = tmp_path / "transfer"
    matrix = write_transfer(list(folders.values()), out)
    assert set(matrix["files"].values()) == {"transfer.json", "transfer.csv", "transfer.md", "transfer.png",
                                             "transfer_delta.csv", "transfer_delta.png"}
    for png in ("transfer.png", "transfer_delta.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    table = list(csv.DictReader((out / "transfer.csv").open()))
    by_label = {r["training_data"]: r for r in table}
    assert float(by_label["AugMATH"]["math"]) == pytest.approx(0.10, abs=1e-6)
    assert by_label["AugGSM8K + AugMATH"]["in_domain"] == "gsm8k;math;math500"
    deltas = {r["training_data"]: r for r in csv.DictReader((out / "transfer_delta.csv").open())}
    assert set(deltas) == {"AugGSM8K: numbers", "AugGSM8K: reverse", "AugGSM8K", "AugMATH"}
    md = (out / "transfer.md").read_text()
    assert "| AugGSM8K: reverse | 4,000 | **17.0 ± 2.7** | 3.0 ± 1.2 |" in md
    assert json.loads((out / "transfer.json").read_text())["rows"][0]["label"] == "base model (no fine-tuning)"


def test_cli(tmp_path, capsys):
    folders = _experiment(tmp_path)
    out = tmp_path / "t"
    assert main(["transfer", *map(str, folders.values()), "--out", str(out), "--no-deltas",
                 "--tasks", "gsm8k,math"]) == 0
    printed = capsys.readouterr().out
    assert "| training data | N | gsm8k | math |" in printed
    assert not (out / "transfer_delta.csv").exists()
    assert main(["transfer", str(tmp_path / "nothing-here"), "--out", str(out)]) == 2
    assert "nothing-here: not a results folder" in capsys.readouterr().err


# ------------------------------------------------------------------ bits per byte (the likelihood tasks)

def _bpb_experiment(tmp_path):
    spec = {"base": (None, 1.00), "orig": (trained("gsm8k-original", 16, "gsm8k", "original"), 0.80),
            "numbers": (trained("gsm8k-numbers", 16, "gsm8k", "numbers"), 0.75),
            "reverse": (trained("gsm8k-reverse", 16, "gsm8k", "reverse"), 0.82)}
    return {name: write_results(tmp_path / name, accuracies={}, seed=i, model=DEMO_BASE if prov is None else None,
                                provenance=prov, bpb={"gsm8k_bpb": g, "math500_bpb": 0.9, "svamp_bpb": g + 0.3})
            for i, (name, (prov, g)) in enumerate(spec.items())}


def test_bpb_matrix_columns_are_benchmarks_and_deltas_favour_lower(tmp_path):
    folders = _bpb_experiment(tmp_path)
    out = tmp_path / "transfer"
    matrix = write_transfer(list(folders.values()), out)  # auto: no accuracy task anywhere -> bits per byte
    assert matrix["metric"] == "bpb" and matrix["higher_is_better"] is False
    assert matrix["columns"] == ["gsm8k", "math500", "svamp"]
    rows = {r["label"]: r for r in matrix["rows"]}
    cell = rows["AugGSM8K: numbers"]["cells"]["gsm8k"]
    assert cell["value"] == pytest.approx(0.75) and cell["in_domain"] and cell["task"] == "gsm8k_bpb"
    assert not rows["AugGSM8K: numbers"]["cells"]["svamp"]["in_domain"]
    assert cell["delta"] == pytest.approx(-0.05)  # lower than the original's: better
    md = (out / "transfer.md").read_text()
    assert "bits per byte of the reference solution, lower is better" in md
    assert "| AugGSM8K: numbers | 16 | **0.750 ± 0.0" in md and "negative = better" in md
    assert (out / "transfer.png").read_bytes()[:4] == b"\x89PNG"


def test_metric_switch_and_bad_metric(tmp_path, capsys):
    folders = _bpb_experiment(tmp_path)
    mixed = write_results(tmp_path / "mixed", accuracies={"gsm8k": 0.1}, bpb={"gsm8k_bpb": 0.7},
                          provenance=trained("gsm8k", 32, "gsm8k", None))
    assert build_matrix([load_results(p) for p in [*folders.values(), mixed]])["metric"] == "accuracy"
    by_bpb = build_matrix([load_results(p) for p in [*folders.values(), mixed]], metric="bpb")
    assert {r["label"]: r["cells"]["gsm8k"]["value"] for r in by_bpb["rows"]}["AugGSM8K"] == pytest.approx(0.7)
    out = tmp_path / "t"
    assert main(["transfer", *map(str, folders.values()), "--out", str(out), "--metric", "accuracy"]) == 2
    assert "no results folder has a accuracy task" in capsys.readouterr().err
