"""The `alpaca-input` template (augmath.prompts): the paper's released train.py splits a multi-line query into
`### Instruction:` (first line) and `### Input:` (the rest). The same text must reach the model in training and in
evaluation."""

from __future__ import annotations

import tempfile

import pytest

from augmath.prompts import ALPACA_STOP, TEMPLATES, format_prompt, stop_sequences
from augmath.sources import load
from augmath.tiny import make_tiny_llama
from augmath.training.config import RecipeError, load_recipe
from augmath.training.data import IGNORE_INDEX, tokenize_rows
from eval_fixtures import docs_for, eval_folders, rows  # noqa: F401

MATH_TRAIN = load("math", "train", "packaged")
MULTI = next(r for r in MATH_TRAIN if "\n" in r.question.strip())   # the piecewise function problem
SINGLE = next(r for r in MATH_TRAIN if "\n" not in r.question.strip())

INPUT_HEADER = ("Below is an instruction that describes a task, paired with an input that provides further context. "
                "Write a response that appropriately completes the request.")


def test_multi_line_query_is_split_as_the_papers_training_code_does():
    first, rest = MULTI.question.strip().split("\n", 1)
    assert format_prompt(MULTI.question, "alpaca-input") == (
        f"{INPUT_HEADER}\n\n### Instruction:\n{first}\n\n### Input:\n{rest}\n\n### Response:")
    # a one-line query (every GSM8K question) gets the no-input prompt: the same text as `alpaca`
    assert format_prompt(SINGLE.question, "alpaca-input") == format_prompt(SINGLE.question, "alpaca")
    assert format_prompt(MULTI.question, "alpaca") != format_prompt(MULTI.question, "alpaca-input")
    assert stop_sequences("alpaca-input") == ALPACA_STOP and "alpaca-input" in TEMPLATES


def test_training_masks_exactly_the_alpaca_input_prompt():
    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        tok = AutoTokenizer.from_pretrained(make_tiny_llama(f"{tmp}/model"))
    data = [{"question": r.question, "response": r.solution} for r in (MULTI, SINGLE)]
    examples, _ = tokenize_rows(data, tok, "alpaca-input", max_length=4096)
    for row, ex in zip(data, examples):
        n_prompt = sum(label == IGNORE_INDEX for label in ex.labels)
        assert tok.decode(ex.input_ids[:n_prompt]) == format_prompt(row["question"], "alpaca-input")
    assert "### Input:" in tok.decode(examples[0].input_ids)


def test_evaluation_sends_the_same_prompt_as_training(eval_folders):  # noqa: F811
    from lighteval.tasks.prompt_manager import PromptManager

    config, docs = docs_for("math500", eval_folders, limit=12, template="alpaca-input")
    manager = PromptManager(use_chat_template=False)
    multi = 0
    for doc, row in zip(docs, rows(eval_folders["math500"])):
        assert manager.prepare_prompt(doc) == format_prompt(row["question"], "alpaca-input")
        multi += "### Input:" in doc.query
    assert multi >= 3  # MATH-500 has multi-line problems among its first items
    assert list(config.stop_sequence) == ALPACA_STOP


def test_recipes_accept_the_template(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("model_name_or_path: m\ndataset: x\noutput_dir: y\n")
    assert load_recipe(path, {"prompt_template": "alpaca-input"}).prompt_template == "alpaca-input"
    with pytest.raises(RecipeError, match="valid: alpaca, alpaca-input, chat"):
        load_recipe(path, {"prompt_template": "vicuna"})
