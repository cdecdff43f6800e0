"""The prompt shared by training and evaluation, so a model is scored on exactly the format it learned.

Templates (the one place they live; training's `prompt_template` and `augmath eval --template` pick one):
- "alpaca" (default): MuggleMath's Alpaca no-input template (arXiv 2310.05506), the whole query as the
  instruction.
- "alpaca-input": what the paper's released training code does (OFA-Sys/gsm8k-ScRel train.py): a query's
  first line is the `### Instruction:` and the remaining lines the `### Input:`, with Alpaca's
  "paired with an input" header; a one-line query gets the no-input prompt, so on one-line queries (every
  GSM8K question; about a quarter of MATH's are multi-line) the two templates are the same text.
- "chat": the tokenizer's chat template.
Loss is on the response only in every case.
"""

from __future__ import annotations

ALPACA_TEMPLATE = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{query}\n\n### Response:"
)
ALPACA_INPUT_TEMPLATE = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:"
)
# Stop generation where a model trained on the template would start a new turn.
ALPACA_STOP = ["### Instruction:", "\n\n\n"]

TEMPLATES = ("alpaca", "alpaca-input", "chat")
PLAIN_TEMPLATES = ("alpaca", "alpaca-input")  # plain text the model reads as is (no chat template applied)


def format_prompt(question: str, template: str = "alpaca", tokenizer=None) -> str:
    """Render the prompt for `question`. template="chat" uses the tokenizer's chat template."""
    if template == "alpaca":
        return ALPACA_TEMPLATE.format(query=question.strip())
    if template == "alpaca-input":
        # As the released train.py: split the query (not stripped line by line) at its first newline.
        instruction, _, rest = question.strip().partition("\n")
        if not rest:
            return ALPACA_TEMPLATE.format(query=instruction)
        return ALPACA_INPUT_TEMPLATE.format(instruction=instruction, input=rest)
    if template == "chat":
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise ValueError("template='chat' needs a tokenizer with a chat_template")
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": question.strip()}], tokenize=False, add_generation_prompt=True
        )
    raise ValueError(f"unknown prompt template {template!r}; valid: {', '.join(TEMPLATES)}")


def stop_sequences(template: str = "alpaca") -> list[str]:
    return list(ALPACA_STOP) if template in PLAIN_TEMPLATES else []
