"""The cards: the one renderer (augmath.cards.render), and the dataset, model and results cards as their real
producers write them (`augmath build` on real GSM8K / MATH seeds, a real tiny training run, the experiment report).

Every card is checked the same way: its YAML header parses (yaml and huggingface_hub's DatasetCard / ModelCard agree
on it), its sections are there in order, no secret from the environment reaches it, even when an input carries one,
and no local path of the test's temporary folder appears (a card names artifacts by repo id or folder name).
What each card says in detail is tested beside its producer (tests/dataset_builders/test_build.py,
tests/training/test_training_run.py, tests/analysis/test_report.py).
"""

from __future__ import annotations

import re

import pytest
import yaml
from build_fixtures import make_run
from huggingface_hub import DatasetCard, ModelCard

from augmath.cards import render, render_card, save_card

SECRETS = {"HF_TOKEN": "hf_" + "CardsEnvSecret" * 2, "OPENAI_API_KEY": "sk-cards-" + "Q1w2E3r4T5y6U7i8"}
URL_PASSWORD = "UrlPassw0rd42"

DATASET_SECTIONS = ["Configs", "Nested data-amount subsets (scaling studies)", "Fields", "Verification",
                    "Who made the data: strategy x round x generator", "Decontamination", "Generators and prompts",
                    "Runs, kept/dropped and decontamination", "Sources", "Citation"]
MODEL_SECTIONS = ["Use", "Training data", "Training procedure", "Evaluation", "Reproduce", "Citation"]
RESULTS_SECTIONS = ["Findings", "Strategies at equal N", "Each training data at its largest N",
                    "Scaling with augmented data", "Transfer"]


@pytest.fixture(scope="module")
def planted():
    """The secret environment variables set while the cards are made."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in SECRETS.items():
            mp.setenv(name, value)
        yield SECRETS


def check_card(path, card_cls, sections: list[str], local_root) -> object:
    """The checks every card passes; returns the loaded card."""
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    header = yaml.safe_load(text.split("---\n", 2)[1])
    card = card_cls.load(path)
    assert isinstance(header, dict) and card.data.to_dict() == header
    headings = re.findall(r"^## (.+)$", card.text, re.M)
    assert [h for h in headings if h in sections] == sections, headings
    assert [name for name, value in SECRETS.items() if value in text] == []
    assert URL_PASSWORD not in text
    assert str(local_root) not in text and str(local_root.resolve()) not in text
    return card


# --- the renderer ---

@pytest.fixture
def probe_template(tmp_path, monkeypatch):
    """A template of our own, with the `{{ card_data }}` header every shipped template has."""
    (tmp_path / "probe_card.md").write_text("---\n{{ card_data }}\n---\n\n# {{ title }}\n\n{{ body }}\n")
    monkeypatch.setattr(render, "CARDS_DIR", tmp_path)
    return tmp_path


@pytest.mark.parametrize("kind, card_cls", [("dataset", DatasetCard), ("model", ModelCard), ("results", DatasetCard)])
def test_renderer_writes_metadata_through_huggingface_hub_and_masks_secrets(planted, probe_template, kind, card_cls):
    body = (f"env {SECRETS['HF_TOKEN']} and {SECRETS['OPENAI_API_KEY']}; an endpoint "
            f"http://augmath:{URL_PASSWORD}@127.0.0.1:8080/v1?api-key=QueryKey0a9b8c7d6e; Bearer abc.def.ghi")
    card = render_card(kind, "probe_card", {"license": "mit", "tags": ["augmath", "math"]}, title="Probe", body=body)
    assert type(card) is card_cls
    text = str(card)
    for secret in (*SECRETS.values(), URL_PASSWORD, "QueryKey0a9b8c7d6e", "abc.def.ghi"):
        assert secret not in text
    assert "http://***@127.0.0.1:8080/v1?api-key=***" in text
    saved = save_card(card, probe_template / "out")
    assert saved.name == "README.md"
    loaded = card_cls.load(saved)
    assert (loaded.data.license, loaded.data.tags) == ("mit", ["augmath", "math"])
    assert loaded.text.startswith("\n# Probe\n")


def test_renderer_refuses_unknown_kinds_and_templates(probe_template):
    with pytest.raises(ValueError, match=r"unknown card kind 'space'; valid: dataset, model, results"):
        render_card("space", "probe_card")
    with pytest.raises(FileNotFoundError, match=r"card template .*nope\.md not found \(templates: \['probe_card.md'\]\)"):
        render_card("model", "nope")


def test_every_shipped_template_is_found():
    for name in ("dataset_card", "model_card", "results_card"):
        path = render.template_path(name)
        assert path.read_text().startswith("---\n{{ card_data }}\n---\n"), name


# --- the dataset card, from `augmath build` on real seeds ---

def test_dataset_card(planted, tmp_path_factory):
    from augmath.dataset_builders import build

    root = tmp_path_factory.mktemp("cards-dataset")
    make_run(root / "runs" / "run-gsm8k", "gsm8k", ["reverse", "numbers"], 12)
    make_run(root / "runs" / "run-math", "math", ["complexity"], 6)
    out = root / "ds"
    manifest = build.build([root / "runs" / "run-gsm8k", root / "runs" / "run-math"], out, version="0.2.0",
                           data_dir="packaged", repo_id="someorg/augmath-cards")
    card = check_card(out / "README.md", DatasetCard, DATASET_SECTIONS, root)
    assert {c["config_name"] for c in card.data.configs} == set(manifest["configs"])
    assert {info["config_name"] for info in card.data.dataset_info} == set(manifest["configs"])
    assert 'load_dataset("someorg/augmath-cards"' in card.text


# --- the model card, from a real (tiny) training run ---

@pytest.fixture(scope="module")
def model_folder(planted, tmp_path_factory):
    from augmath.tiny import make_tiny_llama
    from training_helpers import default_dataset, launch, tiny_recipe

    tmp = tmp_path_factory.mktemp("cards-model")
    # the run's name carries the secret, as a careless user's might: the card must still not show it
    recipe = tiny_recipe(tmp, make_tiny_llama(tmp / "tiny"), default_dataset(tmp / "ds"), tmp / "model",
                         num_samples=8, global_batch_size=4, per_device_train_batch_size=4, max_length=512,
                         save_steps=0, run_name=f"tiny-{SECRETS['HF_TOKEN']}")
    proc = launch(tmp, recipe, launcher=False, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp, tmp / "model"


@pytest.mark.slow
def test_model_card_before_and_after_evaluation(model_folder):
    from augmath.cards import add_eval_results

    tmp, folder = model_folder
    card = check_card(folder / "README.md", ModelCard, MODEL_SECTIONS, tmp)
    assert card.data.library_name == "transformers" and card.data.base_model is None  # a local base: no Hub id
    assert card.data.model_name == "tiny-***" and "Not evaluated yet" in card.text
    # results as `augmath eval` writes them name the model by its local path: the card must not
    add_eval_results(folder, {"model": str(folder), "tasks": {"gsm8k": {"accuracy": 0.25, "n": 8, "stderr": 0.15},
                                                              "gsm8k_bpb": {"bpb": 0.81, "n": 8, "stderr": 0.02}},
                              "settings": {"template": "alpaca", "profile": "lenient", "fewshot": 0}})
    card = check_card(folder / "README.md", ModelCard, MODEL_SECTIONS, tmp)
    scores = {(r.dataset_type, r.metric_type): r.metric_value for r in card.data.eval_results}
    # bits per byte of GSM8K's references is reported under GSM8K's Hub dataset, as accuracy is
    assert scores == {("openai/gsm8k", "accuracy"): 0.25, ("openai/gsm8k", "bpb"): 0.81}


# --- the results card, from the experiment report ---

def test_results_card(planted, tmp_path_factory):
    import math

    from analysis_fixtures import trained, write_results
    from augmath.analysis import render_results_card, write_report

    tmp = tmp_path_factory.mktemp("cards-results")
    base = "HuggingFaceTB/SmolLM2-135M-Instruct"
    # evaluations of local model folders: results.json names each model by its path under tmp
    folders = [write_results(tmp / "res" / "base", accuracies={"gsm8k": 0.03, "math500": 0.01}, provenance=None,
                             model=base)]
    for n in (1000, 2000, 4000, 8000):
        folders.append(write_results(tmp / "res" / f"gsm8k-{n}", accuracies={"gsm8k": 0.05 + 0.03 * math.log(n / 1000),
                                     "math500": 0.015}, provenance=trained("gsm8k", n, "gsm8k", None, base=base)))
    folders.append(write_results(tmp / "res" / "orig", accuracies={"gsm8k": 0.06, "math500": 0.01},
                                 provenance=trained("gsm8k-original", 8000, "gsm8k", "original", base=base)))
    # as the experiment writes it: published models by repo id, one left unpublished (named by its folder name)
    published = {tmp / "res" / f"gsm8k-{n}" / "model": f"someorg/augmath-gsm8k-{n}" for n in (1000, 2000, 4000)}
    out = tmp / "report"
    write_report(out, folders, title=f"study {SECRETS['OPENAI_API_KEY']}", published=published)
    save_card(render_results_card(out, repo_id="someorg/augmath-results"), out)
    card = check_card(out / "README.md", DatasetCard, RESULTS_SECTIONS, tmp)
    assert card.data.pretty_name == "study ***" and card.data.license == "apache-2.0"
    assert "[`someorg/augmath-gsm8k-1000`](https://huggingface.co/someorg/augmath-gsm8k-1000)" in card.text
    assert "`model (local)`" in card.text
