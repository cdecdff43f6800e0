"""The prompt shared by training and evaluation, so a model is scored on exactly the format it learned.

Default: MuggleMath's Alpaca no-input template (arXiv 2310.05506), loss on the response only.
"""

from __future__ import annotations

ALPACA_TEMPLATE = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{query}\n\n### Response:"
)
# Stop generation where a model trained on the template would start a new turn.
ALPACA_STOP = ["### Instruction:", "\n\n\n"]

TEMPLATES = ("alpaca", "chat")


def format_prompt(question: str, template: str = "alpaca", tokenizer=None) -> str:
    """Render the prompt for `question`. template="chat" uses the tokenizer's chat template."""
    if template == "alpaca":
        return ALPACA_TEMPLATE.format(query=question.strip())
    if template == "chat":
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise ValueError("template='chat' needs a tokenizer with a chat_template")
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": question.strip()}], tokenize=False, add_generation_prompt=True
        )
    raise ValueError(f"unknown prompt template {template!r}; valid: {', '.join(TEMPLATES)}")


def stop_sequences(template: str = "alpaca") -> list[str]:
    return list(ALPACA_STOP) if template == "alpaca" else []
