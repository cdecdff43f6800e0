"""The training seed (`augmath train --seed`, the experiment's train.seeds) really changes the run: the order of
the rows (packing.Schedule's permutation) and hence the losses and weights, while the rows themselves stay the
same; the seed reaches the results' provenance through the model folder's augmath_train.json."""

from __future__ import annotations

import json

import pytest
from safetensors.torch import load_file

from augmath.analysis.results import flatten_training_provenance
from augmath.tiny import make_tiny_llama
from training_helpers import default_dataset, load_sft_module, read_log, tiny_recipe

pytestmark = pytest.mark.slow  # three real (tiny) training runs in-process: ~15 s of CPU
RUN = dict(num_samples=16, global_batch_size=4, per_device_train_batch_size=4, num_train_epochs=1, max_length=256,
           save_steps=100, learning_rate=3e-3)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seeds")
    model, ds = make_tiny_llama(tmp / "tiny"), default_dataset(tmp / "ds")
    outs = {}
    for name, seed in (("a", 0), ("b", 1), ("a-again", 0)):
        out = tmp / name
        assert load_sft_module().main(["--config", str(tiny_recipe(tmp, model, ds, out, seed=seed, **RUN))]) == 0
        outs[name] = out
    return outs


def test_another_seed_is_another_order_over_the_same_rows(runs):
    a, b, again = (read_log(runs[k]) for k in ("a", "b", "a-again"))
    assert [r["loss"] for r in a] == [r["loss"] for r in again]  # the seed alone decides the run
    assert [r["loss"] for r in a] != [r["loss"] for r in b]
    wa, wb = load_file(runs["a"] / "model.safetensors"), load_file(runs["b"] / "model.safetensors")
    assert any(not (wa[k] == wb[k]).all() for k in wa)
    ra, rb = (json.loads((runs[k] / "augmath_train.json").read_text()) for k in ("a", "b"))
    assert ra["dataset"] == rb["dataset"]  # the same rows (ids, counts): only their order moved
    assert ra["tokens"]["tokens"] == rb["tokens"]["tokens"]


def test_the_seed_reaches_the_flat_provenance(runs):
    for name, seed in (("a", 0), ("b", 1)):
        record = json.loads((runs[name] / "augmath_train.json").read_text())
        assert record["recipe"]["seed"] == seed and flatten_training_provenance(record)["seed"] == seed
