"""augmath.decontam: near-duplicate removal and decontamination against every evaluation set.

    Decontaminator(eval sets).flag(questions) -> flags by stage: exact, n-gram (ngrams), embedding (embed),
    fuzzy (aligned); run is `augmath decontaminate`; dedup_rows removes near-duplicates inside a run;
    edits makes planted near-copies for the benchmark.
"""

from augmath._lazy import lazy_face

__getattr__, __dir__, __all__ = lazy_face(__name__, {"Decontaminator": "run", "Flag": "run", "dedup_rows": "dedup"})
