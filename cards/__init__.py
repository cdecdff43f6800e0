"""augmath.cards: the card templates (`*_card.md`, shipped as package data) and the one renderer behind every card.

    render_card(kind, template, card_data, **variables)   huggingface_hub DatasetCard / ModelCard from a template
    save_card(card, folder)                                README.md, atomically
    render_dataset_card(...) / dataset_summary(...)        the dataset folder's card, its headline numbers (build)
    render_model_card(model_dir) / add_eval_results(...)   a trained model's card (training, `augmath eval`)
The results card is rendered by augmath.analysis.report from `results_card.md`.
"""

from augmath._lazy import lazy_face

__getattr__, __dir__, __all__ = lazy_face(__name__, {
    "render_card": "render", "save_card": "render", "template_path": "render", "CARDS_DIR": "render",
    "REPO_ID_RE": "render",
    "render_dataset_card": "dataset", "dataset_summary": "dataset",
    "render_model_card": "model", "add_eval_results": "model",
})
