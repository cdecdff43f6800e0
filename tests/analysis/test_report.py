"""augmath.analysis.report.write_report: every section, the demo banner, working links, and the results card."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from analysis_fixtures import trained, write_results
from augmath.analysis.fit import fit_results
from augmath.analysis.report import DEMO_BANNER, render_results_card, write_report
from augmath.analysis.transfer import write_transfer

LINK = re.compile(r"\]\(([^)]+)\)")


def _results(tmp_path, base="HuggingFaceTB/SmolLM2-135M-Instruct"):
    folders = [write_results(tmp_path / "res" / "base", accuracies={"gsm8k": 0.03, "math500": 0.01},
                             provenance=None, model=base)]
    for n in (1000, 2000, 4000, 8000, 16000):
        acc = 0.05 + 0.03 * math.log(n / 1000)
        folders.append(write_results(tmp_path / "res" / f"gsm8k-{n}", accuracies={"gsm8k": acc, "math500": 0.015},
                                     provenance=trained("gsm8k", n, "gsm8k", None, base=base)))
    folders.append(write_results(tmp_path / "res" / "orig", accuracies={"gsm8k": 0.06, "math500": 0.01},
                                 provenance=trained("gsm8k-original", 7473, "gsm8k", "original", base=base)))
    return folders


def _run_folder(tmp_path):
    run = tmp_path / "runs" / "gsm8k-demo"
    run.mkdir(parents=True)
    rows = [{"id": f"aug/{i}", "seed_id": f"gsm8k/train/{i // 2}", "source": "gsm8k",
             "strategy": "reverse" if i % 2 else "numbers", "question": "q", "response": "r", "answer": "3",
             "generator": "smollm2", "prompt_hash": "ab12", "sampling": "{}", "path_index": 0,
             "verification": "majority" if i % 2 else "exact", "verified": i % 4 != 1,
             "agreement": 0.75 if i % 2 else None} for i in range(8)]
    (run / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run / "dropped.jsonl").write_text("".join(json.dumps({"id": f"d{i}", "reason": r}) + "\n"
                                               for i, r in enumerate(["no_answer", "contaminated", "no_answer"])))
    (run / "report.json").write_text(json.dumps({"accepted": 8, "decontamination": {"checked": 11, "flagged": 1}}))
    return run


def _dataset(tmp_path):
    ds = tmp_path / "dataset"
    ds.mkdir()
    (ds / "manifest.json").write_text(json.dumps({"name": "augmath-demo", "version": "1.0.0", "seed": 0, "configs": {
        "gsm8k-reverse": {"kind": "strategy", "rows": 4, "sources": ["gsm8k"], "strategies": ["reverse"]},
        "default": {"kind": "default", "rows": 8, "sources": ["gsm8k"], "strategies": ["numbers", "reverse"]}}}))
    return ds


def test_full_report(tmp_path):
    results = _results(tmp_path)
    out = tmp_path / "report"
    path = write_report(out, results, run_dirs=[_run_folder(tmp_path)], dataset_dir=_dataset(tmp_path),
                        model_dirs=[tmp_path / "res"], extra_links={"experiment config": tmp_path / "res"}, html=True)
    md = path.read_text()
    assert md.count(DEMO_BANNER) == 1
    # strategy table: in-domain accuracy with s.e. and the delta against the original seeds
    assert "| AugGSM8K | 16,000 | gsm8k 13.5 ± 2.4 | +7.5 |" in md
    assert "| GSM8K original | 7,473 | gsm8k 6.0 ± 1.7 | — |" in md
    # scaling: the fit table, the plot, the single-N series named as skipped
    assert re.search(r"\| gsm8k \| gsm8k \| 5 \| loglinear \| a = -0\.1[56]\d+ \[.*\]; b = 0\.03\d+ \[", md)
    assert "![scaling on gsm8k](fit/fit_gsm8k.png)" in md
    assert "gsm8k-original (N=7,473)" in md
    # transfer heatmap and table; data statistics from items/dropped/report.json and the manifest
    assert "![transfer heatmap](transfer/transfer.png)" in md and "**13.5 ± 2.4**" in md
    assert "| gsm8k-demo | gsm8k | reverse | 4 | 50.0% | 0.75 | majority 4 |" in md
    assert "| gsm8k-demo | contaminated | 1 |" in md
    assert "| gsm8k-demo | `decontamination.flagged` | 1 |" in md
    assert "| `gsm8k-reverse` | strategy | 4 | gsm8k | reverse |" in md
    # every link resolves, relative to the report
    links = LINK.findall(md)
    assert len(links) > 15
    for link in links:
        assert (out / link).exists(), link
    html = (out / "report.html").read_text()
    assert "<table>" in html and '<img src="fit/fit_gsm8k.png"' in html
    summary = json.loads((out / "report.json").read_text())
    assert summary["demo_model"] is True and summary["fits"][0]["model"] == "loglinear"


def test_no_banner_for_other_models_and_precomputed_stages(tmp_path):
    results = _results(tmp_path, base="meta-llama/Llama-2-7b-hf")
    fit_results([p for p in results if p.name != "base"], tmp_path / "stages" / "fit", resamples=100)
    write_transfer(results, tmp_path / "stages" / "transfer")
    out = tmp_path / "report"
    md = write_report(out, results, fit_dir=tmp_path / "stages" / "fit",
                      transfer_dir=tmp_path / "stages" / "transfer").read_text()
    assert "135M" not in md
    assert "No augment run folders or dataset folder were given." in md
    # figures from stage folders outside the report are copied in, so the report folder stands alone
    assert "![scaling on gsm8k](figures/fit-fit_gsm8k.png)" in md
    assert (out / "figures" / "transfer-transfer.png").is_file()
    for link in LINK.findall(md):
        assert (out / link).exists(), link


def test_base_model_only_has_no_fit(tmp_path):
    base = write_results(tmp_path / "base", accuracies={"gsm8k": 0.03}, provenance=None,
                         model="HuggingFaceTB/SmolLM2-135M-Instruct")
    md = write_report(tmp_path / "r", [base]).read_text()
    assert "No trained model in these results, so nothing to fit." in md
    assert "| base model (no fine-tuning) | — | — | — | 3.0 | — |" in md


def test_results_card(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_" + "x" * 30)
    out = tmp_path / "report"
    write_report(out, _results(tmp_path))
    card = render_results_card(out)
    text = str(card)
    assert text.startswith("---\n") and "license: apache-2.0" in text and "- augmath" in text
    assert DEMO_BANNER in text
    assert "| AugGSM8K | 16,000 | gsm8k 13.5 ± 2.4 | +7.5 |" in text
    assert re.search(r"log-linear, accuracy = -0\.1[56]\d+ \+ 0\.03\d+·ln N", text)
    assert "(fit/fit_gsm8k.png)" in text and "(report.md)" in text
    assert "hf_xxxx" not in text
    assert card.data.to_dict()["pretty_name"] == "augmath experiment report"


def test_bad_results_folder_is_named(tmp_path):
    from augmath.io import DataError

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "results.json").write_text('{"model": "m", "tasks": {"gsm8k": {"accuracy": 1.5, "n": 10}}}')
    with pytest.raises(DataError, match=r"bad/results.json: field 'tasks.gsm8k.accuracy' is 1.5"):
        write_report(tmp_path / "r", [bad])


# ------------------------------------------------------------------ bits per byte: strategies at equal N

def _bpb_study(tmp_path):
    """A demo-shaped study: a numbers series at 4 nested N, and numbers / reverse / original at N = 16."""
    base = "HuggingFaceTB/SmolLM2-135M-Instruct"
    folders = [write_results(tmp_path / "res" / "base", accuracies={}, provenance=None, model=base,
                             bpb={"gsm8k_bpb": 1.0, "svamp_bpb": 1.4})]
    for i, n in enumerate((2, 4, 8, 16)):
        folders.append(write_results(tmp_path / "res" / f"numbers-{n}", accuracies={}, seed=i + 1,
                                     bpb={"gsm8k_bpb": 0.95 - 0.06 * math.log(n), "svamp_bpb": 1.3},
                                     provenance=trained("gsm8k-numbers", n, "gsm8k", "numbers", base=base)))
    folders.append(write_results(tmp_path / "res" / "orig-16", accuracies={}, seed=7,
                                 bpb={"gsm8k_bpb": 0.95 - 0.06 * math.log(16) + 0.05, "svamp_bpb": 1.3},
                                 provenance=trained("gsm8k-original", 16, "gsm8k", "original", base=base)))
    folders.append(write_results(tmp_path / "res" / "reverse-16", accuracies={}, seed=8,
                                 bpb={"gsm8k_bpb": 0.95 - 0.06 * math.log(16) + 0.05, "svamp_bpb": 1.25},
                                 provenance=trained("gsm8k-reverse", 16, "gsm8k", "reverse", base=base)))
    return folders


def test_bpb_report_compares_strategies_at_equal_n_with_paired_intervals(tmp_path):
    out = tmp_path / "report"
    md = write_report(out, _bpb_study(tmp_path)).read_text()
    # the figures come first, then the findings in words, then the tables
    assert md.index("## Figures") < md.index("![scaling on gsm8k_bpb]") < md.index("## Findings") \
        < md.index("## Strategies at equal N") < md.index("## Scaling with the amount")
    assert "no accuracy claim" in md
    summary = json.loads((out / "report.json").read_text())
    rows = {(r["label"], r["task"]): r for r in summary["comparisons"]}
    assert {r["n_train"] for r in summary["comparisons"]} == {16}  # only N with an original row to compare to
    numbers = rows[("AugGSM8K: numbers", "gsm8k_bpb")]
    # numbers is 0.05 bits/byte below the original on GSM8K: the paired interval excludes 0 -> helps
    assert numbers["vs"] == "GSM8K original" and numbers["in_domain"]
    assert numbers["delta"]["difference"] == pytest.approx(-0.05, abs=1e-9)
    assert numbers["delta"]["ci"][1] < 0 and numbers["verdict"] == "helps"
    # reverse equals the original on GSM8K: the job cannot tell, whatever the sign
    reverse = rows[("AugGSM8K: reverse", "gsm8k_bpb")]
    assert reverse["delta"]["ci"][0] < 0 < reverse["delta"]["ci"][1] and reverse["verdict"] == "cannot tell"
    # cross-domain: reverse is 0.05 lower on SVAMP -> helps there
    assert not rows[("AugGSM8K: reverse", "svamp_bpb")]["in_domain"]
    assert rows[("AugGSM8K: reverse", "svamp_bpb")]["verdict"] == "helps"
    assert rows[("GSM8K original", "gsm8k_bpb")]["kind"] == "original" and "delta" not in rows[("GSM8K original", "gsm8k_bpb")]
    # the table and the findings carry the differences with their intervals
    # one training seed per row: the seed spread is not measured, the item spread and detectable difference are
    assert re.search(r"\| AugGSM8K: numbers \| 1 \| gsm8k_bpb \| in-domain \| 0\.\d{3} bits/byte \[0\.\d{3}, 0\.\d{3}\] \| "
                     r"-0\.050 \[-0\.\d{3}, -0\.\d{3}\] \| 1 seed \| ±0\.\d{3} \| ±0\.\d{3} \| \*\*helps\*\* \|", md)
    assert "Every row has one training seed, so the intervals cover evaluation noise only" in md
    assert re.search(r"At N = 16, \*\*AugGSM8K: numbers\*\* against GSM8K original: helps on gsm8k_bpb", md)
    # the scaling finding: the decrease from N=2 to N=16, paired, outside the evaluation noise
    assert re.search(r"\*\*gsm8k_bpb\*\*, gsm8k-numbers: 0\.9\d\d bits/byte \[.*\] at N = 2 → 0\.7\d\d bits/byte .* at "
                     r"N = 16; change -0\.125 \[-0\.1\d\d, -0\.1\d\d\], paired over the same items: larger than the "
                     r"evaluation noise", md)
    card = str(render_results_card(out))
    assert "## Findings" in card and "helps on gsm8k_bpb" in card and "#### N = 16" in card
    # format learning: the untrained base (1.0) -> N = 2 (0.95 - 0.06 ln 2), paired over the same items, is worth
    # about two doublings of the fitted slope (0.06 ln 2 per doubling); on SVAMP the curve is flat after the step
    jumps = {j["task"]: j for j in summary["format_jumps"]}
    g = jumps["gsm8k_bpb"]
    assert g["base_value"] == pytest.approx(1.0, abs=0.02) and g["n_min"] == 2 and g["ends_at_n"] == 2
    assert g["step_ci"][0] < g["step"] < g["step_ci"][1] < 0
    assert g["step"] == pytest.approx(-0.05 - 0.06 * math.log(2), abs=0.03)
    assert g["doublings"] == pytest.approx(g["step"] / (-0.06 * math.log(2)), rel=0.3)
    assert re.search(r"\*\*Format learning\*\* \(gsm8k_bpb, gsm8k-numbers\): untrained base 1\.0\d\d → 0\.9\d\d at N = 2, "
                     r"a step of -0\.\d{3} bits/byte \[-0\.\d{3}, -0\.\d{3}\] over \d+ paired items, as much as \d\.\d "
                     r"doublings", md)
    assert jumps["svamp_bpb"]["doublings"] is None and jumps["svamp_bpb"]["step"] < 0
    assert "the curve is read as the data's effect from N = 2 on" in md


def test_a_published_report_names_artifacts_by_hub_id_and_links_nothing_local(tmp_path):
    base = str(tmp_path / "stages" / "base" / "model")  # a local base model (not on the Hub)
    results = _results(tmp_path, base=base)
    dataset, run = _dataset(tmp_path), _run_folder(tmp_path)
    models = {json.loads((r / "results.json").read_text())["model"]: f"org/demo-{r.name}" for r in results[1:]}
    published = {dataset: "org/augmath-demo@v1.0.0", base: "augmath.tiny random Llama", **models}
    out = tmp_path / "report"
    md = write_report(out, results, run_dirs=[run], dataset_dir=dataset, model_dirs=[Path(m) for m in models],
                      published=published).read_text()
    card = str(render_results_card(out, repo_id="org/demo-results"))
    for text in (md, card):
        assert str(tmp_path) not in text and "../" not in text
    assert "Base model(s): `augmath.tiny random Llama`" in md
    assert "- [model: org/demo-gsm8k-4000](https://huggingface.co/org/demo-gsm8k-4000)" in md
    assert "- [dataset: org/augmath-demo@v1.0.0](https://huggingface.co/datasets/org/augmath-demo/tree/v1.0.0)" in md
    assert "(https://huggingface.co/datasets/org/augmath-demo/tree/v1.0.0/runs/gsm8k-demo)" in md
    assert all(not link.startswith("http") and (out / link).exists() or link.startswith("https://huggingface.co/")
               for link in LINK.findall(md))
    assert "| [`org/demo-gsm8k-16000`](https://huggingface.co/org/demo-gsm8k-16000) | `augmath.tiny random Llama` | " \
           "gsm8k | 16,000 |" in card
    assert 'hf_hub_download("org/demo-results", "results.json", repo_type="dataset")' in card
    # without `published` the report is a local one: relative links to the folders beside it
    local = write_report(tmp_path / "local", results, dataset_dir=dataset).read_text()
    assert "](../dataset)" in local
