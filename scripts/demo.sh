#!/usr/bin/env bash
# Set up .venv (idempotent) and run the main job on the embedded default model (SmolLM2-135M-Instruct),
# offline: serve -> augment -> build -> train at 3 data amounts -> evaluate -> fit -> report -> staged push.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec "$ROOT/.venv/bin/augmath" experiment "${1:-configs/demo.yaml}"
