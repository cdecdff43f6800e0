"""Evaluation profiles: how `augmath eval` generates and scores (`--profile lenient|paper`).

- lenient (default): the tasks' generation sizes (512 word problems, 1024 MATH) and augmath's lenient
  extraction (augmath.grading.extract: `####`, "The answer is", \\boxed{}, else the last number), graded by
  augmath.grading. This is what every augmath number meant before profiles existed.
- paper: comparable with MuggleMath / RFT (arXiv 2310.05506, 2308.01825): greedy decoding, 256 new tokens
  for number-graded tasks (the released GSM8K test.py: `max_new_tokens=256`, greedy; MATH-graded tasks keep
  their 1024: no released MATH script says otherwise, and 256 would cut most MATH solutions), and the
  official scoring (the released eval.py, the
  same rule as openai/grade-school-math): the answer is the number in the first match of
  `#### (\\-?[0-9\\.\\,]+)`, commas removed, and it must parse as a number; output without it is wrong, whatever
  else it says. For tasks graded as MATH (math, math500) the answer is the last \\boxed{} only (the paper:
  "the answer in the last \\boxed{}, compared with an equivalence checker"). The extracted answer is then
  compared with the gold by augmath.grading.is_equiv, which for numbers is the numeric comparison eval.py makes
  (|pred - gold| < 1e-4 there; exact after normalisation here, the same on GSM8K's integer answers).
  Not changed by the profile: the prompt template (`--template`) and the stop sequences (`### Instruction:`,
  three newlines; test.py had none, and a model trained on the template ends with EOS before either).

The extraction of the paper profile is this module's; the comparison is the grader's (augmath.grading), whose
internals the profile does not touch. The profile reaches lighteval's process in the settings file
(augmath.eval_tasks.settings `profile`), and results.json records it next to every number.
"""

from __future__ import annotations

import re

from augmath import grading

PROFILES = ("lenient", "paper")
PAPER_MAX_NEW_TOKENS = 256
OFFICIAL_GSM8K_RE = re.compile(r"#### (\-?[0-9\.\,]+)")  # OFA-Sys/gsm8k-ScRel eval.py ANS_RE, verbatim


def official_extract(text: str, kind: str) -> str | None:
    """The paper's answer extraction: GSM8K-style `#### N` (first match), MATH the last \\boxed{}; None if absent."""
    text = text or ""
    if kind != "gsm8k":
        return grading.last_boxed(text)
    if "\u0000" in text:  # as eval.py: generation stops at a NUL byte
        text = text[:text.find("\u0000")]
    m = OFFICIAL_GSM8K_RE.search(text)
    if not m:
        return None
    answer = m.group(1).strip().replace(",", "")
    try:
        float(answer)
    except ValueError:  # "1.2.3", "." : eval.py's INVALID_ANS
        return None
    return answer


def generation_size(kind: str, task_default: int, chosen: dict) -> int:
    """A task's max new tokens: --max-new-tokens if given, else the profile's, else the task's own."""
    if chosen.get("max_new_tokens"):
        return int(chosen["max_new_tokens"])
    if chosen.get("profile") == "paper" and kind == "gsm8k":
        return PAPER_MAX_NEW_TOKENS
    return int(task_default)


def check(profile: str) -> str:
    if profile not in PROFILES:
        raise ValueError(f"unknown evaluation profile {profile!r}; valid: {', '.join(PROFILES)}")
    return profile


def extract(text: str, kind: str, profile: str = "lenient") -> str | None:
    if check(profile) == "lenient":
        return grading.extract(text or "", kind)
    return official_extract(text, kind)


def grade(gold: str, text: str, kind: str, profile: str = "lenient") -> tuple[str | None, bool]:
    """(extracted answer, correct) for one output under `profile`."""
    if check(profile) == "lenient":
        g = grading.grade(gold, text or "", kind)
        return g.extracted, bool(g.correct)
    answer = official_extract(text, kind)
    return answer, answer is not None and bool(grading.is_equiv(gold, answer, kind))
