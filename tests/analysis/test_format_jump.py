"""augmath.analysis.format_jump: the untrained base against the smallest N, paired, and where the curve is read."""

from __future__ import annotations

import pytest

from analysis_fixtures import trained, write_results
from augmath.analysis.format_jump import format_jump, format_text
from augmath.analysis.results import load_many

BASE = "HuggingFaceTB/SmolLM2-135M-Instruct"


def _folders(tmp_path, seeds=(0,)):
    paths = [write_results(tmp_path / "base", accuracies={}, provenance=None, model=BASE, bpb={"gsm8k_bpb": 1.0})]
    for s in seeds:  # the smallest N trained with these seeds: averaged per item before pairing
        paths.append(write_results(tmp_path / f"n2-s{s}", accuracies={}, seed=s + 1, bpb={"gsm8k_bpb": 0.8 + 0.01 * s},
                                   provenance={**trained("gsm8k-numbers", 2, "gsm8k", "numbers", base=BASE), "seed": s}))
    return load_many(paths)


def _fit(selected="loglinear", b=-0.05, b_ci=(-0.07, -0.03), b1=-0.2, b2=-0.02, breakpoint=8.0):
    return {"task": "gsm8k_bpb", "series": "gsm8k-numbers", "base_model": BASE, "config": "gsm8k-numbers",
            "points": [{"n_train": 2, "value": 0.81}], "selected": selected,
            "models": {"loglinear": {"params": {"b": b}, "ci": {"b": list(b_ci)}},
                       "segmented": {"params": {"b1": b1, "b2": b2, "breakpoint_n": breakpoint}}}}


@pytest.mark.parametrize("fit_kw, ends, doublings", [
    ({}, 2, True),                                                   # log-linear: the step is all base -> N_min
    ({"selected": "segmented"}, 8.0, True),                          # steeper first piece: read from the breakpoint
    ({"selected": "segmented", "b1": -0.01, "b2": -0.1}, 2, True),   # the later piece is the steeper: from N_min
    ({"b": -0.001, "b_ci": (-0.01, 0.008)}, 2, False),               # a flat curve: no doublings to count
])
def test_the_step_and_where_the_curve_is_read(tmp_path, fit_kw, ends, doublings):
    j = format_jump(_fit(**fit_kw), _folders(tmp_path, seeds=(0, 1, 2)))
    assert j["ends_at_n"] == ends and j["paired_items"] > 0
    assert j["step"] == pytest.approx(0.81 - 1.0, abs=1e-9)  # the three seeds' mean per item, minus the base's
    assert j["step_ci"][0] < j["step"] < j["step_ci"][1] < 0
    if doublings:
        assert j["doublings"] == pytest.approx(j["step"] / (j["per_doubling"]))
        assert "doublings of the data at the fitted slope" in format_text(j, "bpb")
    else:
        assert j["doublings"] is None and "within the noise" in format_text(j, "bpb")


def test_no_base_result_no_step(tmp_path):
    folders = [f for f in _folders(tmp_path) if f.trained]
    assert format_jump(_fit(), folders) is None
