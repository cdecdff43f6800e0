"""The lighteval metrics of augmath's tasks: the project's grader, as accuracy and as maj@k.

The same grader that verifies training data (augmath.grading.grader) scores the models, so "correct" means one
thing across the project. Two metrics, used by every task in eval_tasks/:

- `acc`: grade(gold, first generation, kind).correct, averaged over the samples.
- `maj@k`: sample k generations (the task string `augmath_gsm8k@k=8|0` sets k; the default k=1 adds no
  generations and equals acc), extract each answer, cluster them with grading.same_answer, take the largest
  cluster (ties -> the cluster seen first) and grade its answer against the gold. No answer extracted from any
  sample -> wrong.

Both extract answers as the run's evaluation profile says (augmath.eval_tasks.profiles: lenient, the default,
or paper: `#### N` / last \\boxed{} only), read from the settings file.

`score_outputs` applies exactly the same rules outside lighteval; `augmath eval` uses it to write the
per-sample details, and tests use it to check that the task's score equals the grader applied directly.
"""

from __future__ import annotations

import numpy as np
from lighteval.metrics.metrics_sample import SampleLevelComputation, SamplingMetric
from lighteval.metrics.utils.metric_utils import SampleLevelMetric
from lighteval.tasks.requests import SamplingMethod

from augmath import grading
from augmath.eval_tasks import profiles, settings


def majority_answer(extracted: list[str | None], kind: str) -> str | None:
    """The answer of the largest cluster of equivalent answers (ties: the cluster seen first)."""
    clusters: list[list[str]] = []
    for answer in extracted:
        if answer is None:
            continue
        for cluster in clusters:
            if grading.same_answer(cluster[0], answer, kind):
                cluster.append(answer)
                break
        else:
            clusters.append([answer])
    if not clusters:
        return None
    best = max(clusters, key=len)  # max() keeps the first of equal-size clusters
    return best[0]


def _profile() -> str:
    return settings.current().get("profile") or "lenient"


def score_outputs(gold: str, outputs: list[str], kind: str, k: int = 1, profile: str = "lenient") -> dict:
    """Grade one sample's generations the way the task's metrics do: {extracted, correct, majority, maj_correct}."""
    if not outputs:
        outputs = [""]
    first, correct = profiles.grade(gold, outputs[0] or "", kind, profile)
    row = {"extracted": first, "correct": correct}
    if k > 1:
        extracted = [first] + [profiles.extract(t or "", kind, profile) for t in outputs[1:k]]
        majority = majority_answer(extracted, kind)
        row["samples_extracted"] = extracted
        row["majority"] = majority
        row["maj_correct"] = majority is not None and bool(grading.is_equiv(gold, majority, kind))
    return row


def _kind(doc) -> str:
    specific = doc.specific or {}
    if specific.get("kind") not in ("gsm8k", "math"):
        raise ValueError(f"doc {doc.id} of {doc.task_name} has no grading kind in doc.specific (got {specific!r})")
    return specific["kind"]


class GraderAccuracy(SampleLevelComputation):
    """1.0 if the first generation's answer is equivalent to the gold answer, else 0.0."""

    def compute(self, doc, model_response, **kwargs) -> float:
        text = model_response.final_text[0] if model_response.final_text else ""
        return float(profiles.grade(doc.get_golds()[0], text or "", _kind(doc), _profile())[1])


class GraderMajorityAtK(SamplingMetric, SampleLevelComputation):
    """1.0 if the majority answer over k sampled generations is equivalent to the gold answer."""

    def __init__(self, k: int = 1):
        super().__init__()
        self.k = k
        self.attribute_must_be_set = ["k"]

    def num_samples(self) -> int:
        return int(self.k)

    def compute(self, doc, model_response, **kwargs) -> float:
        kind = _kind(doc)
        texts = list(model_response.final_text[: int(self.k)])
        majority = majority_answer([profiles.extract(t or "", kind, _profile()) for t in texts], kind)
        return float(majority is not None and grading.is_equiv(doc.get_golds()[0], majority, kind))


def accuracy_metric() -> SampleLevelMetric:
    return SampleLevelMetric(
        metric_name="acc", sample_level_fn=GraderAccuracy(), category=SamplingMethod.GENERATIVE,
        corpus_level_fn=np.mean, higher_is_better=True,
    )


def majority_metric() -> SampleLevelMetric:
    # The name must contain "@": lighteval's registry only applies `task@k=8` parameters to such metrics.
    return SampleLevelMetric(
        metric_name="maj@k", sample_level_fn=GraderMajorityAtK(), category=SamplingMethod.GENERATIVE,
        corpus_level_fn=np.mean, higher_is_better=True,
    )


def task_metrics() -> list[SampleLevelMetric]:
    """Fresh metric objects per task (lighteval sets `k` on the object, so tasks must not share one)."""
    return [accuracy_metric(), majority_metric()]
