"""The likelihood tasks (`augmath_gsm8k_bpb`, ...): how likely the model finds the benchmark's reference solution.

For every evaluation item lighteval scores one log-likelihood request: the context is the training prompt
(`augmath.prompts.format_prompt`, the Alpaca template, exactly as `augmath train` tokenizes it), the
continuation is the reference solution followed by the model's end-of-sequence token, which training appends to
every response. Per item the metric records

    nll            -log p(reference + eos | prompt), in nats (lighteval's summed continuation log-probabilities)
    tokens         continuation tokens, eos included (the model's own tokenizer; lighteval returns them)
    bytes          UTF-8 bytes of the reference text (eos has no bytes)
    bpb            nll / ln 2 / bytes: bits per byte, tokenizer-independent, so models with different
                   tokenizers compare (primary; lower is better)
    nll_per_token  nll / tokens

and the task score is the mean over items of each (every problem weighs the same, as in accuracy). Continuous,
so it moves with every training example long before greedy accuracy leaves 0 (docs/evaluation.md).

References: GSM8K and MATH ship worked solutions, kept verbatim, GSM8K's `<<a*b=c>>` calculator annotations and
`#### N` line included: that is the text augmath trains on (the `original` configs are these solutions, and the
`numbers` / `reverse` strategies rewrite them keeping the annotations), so the metric measures the format and the
reasoning the training data teaches. SVAMP ships only an equation and an answer; its reference writes them in
GSM8K's format (`76 - 25 = <<76-25=51>>51\\n#### 51`). ASDiv and MAWPS have no reference here.

Backends: lighteval's transformers backend (`augmath eval --backend accelerate`) and vLLM (prompt logprobs).
The endpoint backend cannot give prompt log-likelihoods; `augmath eval` refuses it before loading anything.
"""

from __future__ import annotations

import json
import re

import numpy as np
from lighteval.metrics.metrics_sample import SampleLevelComputation
from lighteval.metrics.utils.metric_utils import SampleLevelMetricGrouping
from lighteval.tasks.requests import Doc, SamplingMethod

from augmath.evalsets import BENCHMARKS, LIKELIHOOD_SUFFIX, LIKELIHOOD_TASKS
from augmath.eval_tasks import settings
from augmath.eval_tasks.bpb import METRICS, item_values
from augmath.prompts import format_prompt
from augmath.sources import canonical_number

REFERENCE_VERSION = 1  # the reference texts' format (the task config's version)


class NoReference(ValueError):
    """An evaluation row has no usable reference solution."""


# ------------------------------------------------------------------------------------------ references

_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")


def svamp_reference(equation: str, answer: str) -> str:
    """SVAMP's equation and answer in GSM8K's solution format: `(8 + 3) * 5 = <<(8+3)*5=55>>55\\n#### 55`."""
    tokens = [canonical_number(t) if _NUMBER.match(t) else t for t in equation.split()]
    if len(tokens) >= 2 and tokens[0] == "(" and tokens[-1] == ")" and _wraps(tokens):
        tokens = tokens[1:-1]
    if len(tokens) == 1:  # a bare number: nothing to compute
        return f"#### {answer}"
    spaced = " ".join(tokens).replace("( ", "(").replace(" )", ")")
    compact = "".join(tokens)
    return f"{spaced} = <<{compact}={answer}>>{answer}\n#### {answer}"


def _wraps(tokens: list[str]) -> bool:
    """True when the first '(' closes at the last token (so the pair wraps the whole expression)."""
    depth = 0
    for i, t in enumerate(tokens):
        depth += t == "("
        depth -= t == ")"
        if depth == 0:
            return i == len(tokens) - 1
    return False


def reference_solution(line: dict, benchmark: str) -> str:
    """The reference text scored for one prepared evaluation row (see the module doc)."""
    if benchmark == "svamp":
        meta = json.loads(line.get("meta") or "{}") if isinstance(line.get("meta"), str) else (line.get("meta") or {})
        equation = meta.get("equation") or line.get("solution")
        if not equation:
            raise NoReference(f"{line.get('id')}: SVAMP row without an equation")
        return svamp_reference(str(equation), str(line["answer"]))
    solution = line.get("solution") or ""
    if not solution.strip():
        raise NoReference(f"{line.get('id')}: no reference solution")
    return solution  # as is: the `original` training rows are these solutions, unstripped


# --------------------------------------------------------------------------------------------- the Doc

def eos_token() -> str:
    eos = settings.current().get("eos_token")
    if not eos:
        raise RuntimeError(f"the likelihood tasks need the model's end-of-sequence token: run them through "
                           f"`augmath eval`, or name it in the settings file (${settings.SETTINGS_ENV}, "
                           "field eos_token)")
    return eos


def make_likelihood_doc(line: dict, task_name: str | None, benchmark: str) -> Doc:
    """One prepared row -> a Doc whose single choice is reference + eos after the Alpaca training prompt.

    The Alpaca header is also the Doc's instruction (as in eval_tasks.data.make_doc): lighteval's plain-text
    prompt manager then prints the prompt byte-identical to training. The prompt ends in "### Response:" with no
    trailing space, so lighteval tokenizes prompt and continuation separately (tok_encode_pair), exactly as
    training tokenizes prompt and response."""
    if (settings.current().get("template") or "alpaca") != "alpaca":
        raise ValueError("the likelihood tasks score the Alpaca training prompt; template 'chat' is not supported")
    reference = reference_solution(line, benchmark)
    query = format_prompt(line["question"], "alpaca")
    header = query.split("\n\n", 1)[0]
    specific = {"id": line["id"], "kind": BENCHMARKS[benchmark].kind, "question": line["question"],
                "answer": line["answer"], "template": "alpaca", "metric": "bpb", "reference": reference,
                "reference_bytes": len(reference.encode("utf-8"))}
    return Doc(task_name=task_name, query=query, choices=[reference + eos_token()], gold_index=0,
               instruction=header, specific=specific)


def prompt_function(benchmark: str):
    def likelihood_prompt(line: dict, task_name: str = None) -> Doc:
        return make_likelihood_doc(line, task_name, benchmark)

    likelihood_prompt.__name__ = f"{benchmark}_likelihood_prompt"
    return likelihood_prompt


# ------------------------------------------------------------------------------------------- the metric

def continuation_tokens(output_tokens) -> int:
    """Tokens of the first (only) continuation: lighteval's transformers backend pads with -1, vLLM does not."""
    if output_tokens is None or len(output_tokens) == 0:
        raise ValueError("the model response carries no continuation tokens (a backend without log-likelihoods?)")
    return sum(1 for t in list(output_tokens[0]) if int(t) >= 0)


class ReferenceLikelihood(SampleLevelComputation):
    """NLL of reference + eos given the prompt, as bits per byte and per token (see the module doc)."""

    def compute(self, doc, model_response, **kwargs) -> dict[str, float]:
        logprobs = model_response.logprobs
        if logprobs is None or len(logprobs) == 0:
            raise ValueError(f"doc {doc.id} of {doc.task_name}: no log-likelihood in the model response")
        nbytes = int((doc.specific or {})["reference_bytes"])
        return item_values(-float(logprobs[0]), continuation_tokens(model_response.output_tokens), nbytes)


def likelihood_metric() -> SampleLevelMetricGrouping:
    return SampleLevelMetricGrouping(
        metric_name=list(METRICS), sample_level_fn=ReferenceLikelihood(), category=SamplingMethod.LOGPROBS,
        corpus_level_fn=dict.fromkeys(METRICS, np.mean), higher_is_better=dict.fromkeys(METRICS, False),
    )


def task_config(name: str):
    """The LightevalTaskConfig of benchmark `name`'s likelihood task (augmath_<name>_bpb), on the same prepared
    folder as its generative task, zero-shot."""
    from augmath.eval_tasks.data import data_config

    task = f"{name}{LIKELIHOOD_SUFFIX}"
    return data_config(
        task,
        name=LIKELIHOOD_TASKS[task].task + LIKELIHOOD_SUFFIX,
        prompt_function=prompt_function(name),
        generation_size=1,  # no generation: log-likelihood requests only
        metrics=[likelihood_metric()],
        # lighteval's answer cache keys on this config, not on the Docs: bump when the reference text changes
        version=REFERENCE_VERSION,
    )
