"""The one card renderer: dataset, model and results cards from the `*_card.md` templates.

The templates sit beside this module (`cards/` in the repo, `augmath/cards/` when installed) and are rendered
through huggingface_hub.

Templates are jinja files with `{{ card_data }}` as their YAML header (huggingface_hub's convention), so the
metadata block is always produced by huggingface_hub's own CardData serialisers, never by hand.
Secrets are masked in every rendered card (augmath.redaction.redact) as a last line of defence.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from huggingface_hub import DatasetCard, DatasetCardData, ModelCard, ModelCardData, RepoCard
from huggingface_hub.repocard_data import CardData

from augmath.redaction import redact

# The templates ship as package data beside this module; AUGMATH_CARDS_DIR points at a folder of your own.
CARDS_DIR = Path(os.environ.get("AUGMATH_CARDS_DIR") or Path(__file__).resolve().parent)
_KINDS: dict[str, tuple[type[RepoCard], type[CardData]]] = {
    "dataset": (DatasetCard, DatasetCardData),
    "model": (ModelCard, ModelCardData),
    "results": (DatasetCard, DatasetCardData),  # results repos are dataset repos on the Hub
}
# A Hub repository id, ORG/NAME: how every card names another artifact.
REPO_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


def template_path(name: str) -> Path:
    path = CARDS_DIR / (name if name.endswith(".md") else f"{name}.md")
    if not path.exists():
        raise FileNotFoundError(f"card template {path} not found (templates: {sorted(p.name for p in CARDS_DIR.glob('*.md'))})")
    return path


def render_card(kind: str, template_name: str, card_data: CardData | dict[str, Any] | None = None,
                **variables: Any) -> RepoCard:
    """Render the template `<template_name>.md` as a `kind` ("dataset" | "model" | "results") card."""
    if kind not in _KINDS:
        raise ValueError(f"unknown card kind {kind!r}; valid: {', '.join(_KINDS)}")
    card_cls, data_cls = _KINDS[kind]
    if card_data is None or isinstance(card_data, dict):
        card_data = data_cls(**(card_data or {}))
    card = card_cls.from_template(card_data, template_path=str(template_path(template_name)), **variables)
    return card_cls(redact(str(card)))


def save_card(card: RepoCard, folder: str | os.PathLike) -> Path:
    """Write README.md atomically into `folder`."""
    from augmath.io import atomic_write

    path = Path(folder) / "README.md"
    atomic_write(path, str(card))
    return path
