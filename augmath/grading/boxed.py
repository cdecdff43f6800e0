"""Find the last \\boxed{...} / \\fbox{...} in a LaTeX string, with nested braces.

Kept apart from the grader because the benchmark loaders need it too (MATH golds are the last boxed answer
of the reference solution) and must not import the grader's heavier dependencies.
"""

from __future__ import annotations

_MARKERS = ("\\boxed", "\\fbox")


def last_boxed_span(text: str) -> tuple[int, int] | None:
    """(start, end) of the content of the last boxed expression, or None. Handles `\\boxed 5` too."""
    best = -1
    for marker in _MARKERS:
        best = max(best, text.rfind(marker))
    if best < 0:
        return None
    i = best + (len("\\boxed") if text.startswith("\\boxed", best) else len("\\fbox"))
    # `\boxed 5` (no braces) is legal LaTeX and appears in MATH solutions.
    if i < len(text) and text[i] == " ":
        j = i + 1
        end = j
        while end < len(text) and text[end] not in " $\n":
            end += 1
        return (j, end) if end > j else None
    while i < len(text) and text[i] in " \t":
        i += 1
    if i >= len(text) or text[i] != "{":
        return None
    depth, start = 0, i + 1
    for k in range(i, len(text)):
        c = text[k]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return (start, k)
    return None  # unclosed brace: no answer rather than a truncated one


def last_boxed(text: str | None) -> str | None:
    if not text:
        return None
    span = last_boxed_span(text)
    return None if span is None else text[span[0] : span[1]].strip()
