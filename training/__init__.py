"""augmath.training: supervised fine-tuning under `accelerate launch`, from one CPU to many GPUs.

    accelerate launch -m augmath.training.sft --config smollm2_demo [--key value ...]
    augmath train smollm2_demo [--processes N] [--accelerate-config fsdp_full_shard] [--key value ...]

Inside: sft (the training loop; its docstring has the launch commands), launch (`augmath train`), config
(the recipe dataclass, overrides, validation), data (dataset configs, subsets, mixtures, tokenising), packing
(packed / padded batches), state (checkpoints, resume, the training log), recipes/ and accelerate_configs/
(shipped as package data; name them without a path).
"""

from augmath._lazy import lazy_face

__getattr__, __dir__, __all__ = lazy_face(__name__, {
    "SFTConfig": "config", "RecipeError": "config", "load_recipe": "config", "resolve_file": "config",
})
