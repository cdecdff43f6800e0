"""augmath.augment: MuggleMath query and response augmentation (`augmath augment`).

    run (`augmath augment`: seeds -> strategies -> engine -> verify -> dedup -> decontaminate -> RUN_DIR)
    strategies/ (one file per strategy; `strategies.get(name)`, REGISTRY), rows (item / drop rows and the
    tally), verify (RFT filter and majority vote with the one grader), calc (GSM8K <<a=b>> calculator chains),
    released (published formats: MuggleMath, MetaMathQA, Alpaca) + importer (`augmath import` -> RUN_DIR)
"""

from augmath._lazy import lazy_face

__getattr__, __dir__, __all__ = lazy_face(__name__, {"read_items": "run", "UNLINKED_SEED": "rows"})
