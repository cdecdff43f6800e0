#!/usr/bin/env bash
# The data of the single-GPU study (configs/gpu_study.yaml, docs/gpu_study.md), made beforehand on any CPU
# machine: no LLM and no GPU, only augmath's exact strategies over every GSM8K train seed.
#   bash scripts/gpu_study_data.sh                 # -> outputs/gpu-study-data/{gsm8k-exact,dataset,data}
#   bash scripts/gpu_study_data.sh OUT             # another folder (then set dataset.path/data_dir to it)
# It writes
#   OUT/gsm8k-exact/  the augment run: numbers (whole <<a=b>> chains recomputed) and reverse (exact responses),
#                     3 rounds, each row verified by the grader, deduplicated and decontaminated
#   OUT/dataset/      `augmath build` of that run: configs gsm8k, gsm8k-numbers, gsm8k-reverse, gsm8k-original
#                     (the study's dataset.path)
#   OUT/data/         the benchmark files the study evaluates on (GSM8K, MATH-500, SVAMP), laid out like
#                     ../shared/data (the study's data_dir), so the GPU machine needs no network
# Environment: AUGMATH_DATA_DIR  benchmark files laid out like ../shared/data (default ../shared/data), or
#                                `packaged` (the samples shipped in the package; then no OUT/data is written);
#              GPU_STUDY_LIMIT   augment only the first N seeds (the CI miniature, tests/experiment/test_gpu_study.py);
#              AUGMATH           the augmath command (default: `augmath`).
# Measured: docs/gpu_study.md (all 7,473 seeds on a 2-core CPU).
set -euo pipefail
OUT="${1:-outputs/gpu-study-data}"
DATA="${AUGMATH_DATA_DIR:-../shared/data}"
read -r -a AUGMATH <<< "${AUGMATH:-augmath}"
LIMIT=()
if [ -n "${GPU_STUDY_LIMIT:-}" ]; then LIMIT=(--limit "$GPU_STUDY_LIMIT"); fi
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false

mkdir -p "$OUT"
"${AUGMATH[@]}" augment --source gsm8k --strategies numbers,reverse --no-llm --rounds 3 "${LIMIT[@]}" \
    --data-dir "$DATA" --out "$OUT/gsm8k-exact"
"${AUGMATH[@]}" build "$OUT/gsm8k-exact" --out "$OUT/dataset" --name augmath-gpu-study --version 0.1.0 --seed 0 \
    --data-dir "$DATA"

if [ "$DATA" != packaged ]; then
    # GSM8K (test, and train for the few-shot pool), MATH (MATH-500 and the train pool), SVAMP; with their
    # sources and licences. ASDiv and MAWPS are not evaluated by the study and not copied.
    rm -rf "$OUT/data.tmp" && mkdir -p "$OUT/data.tmp"
    cp -r "$DATA/gsm8k" "$DATA/math" "$DATA/svamp" "$OUT/data.tmp/"
    if [ -f "$DATA/SOURCES.md" ]; then cp "$DATA/SOURCES.md" "$OUT/data.tmp/"; fi
    rm -rf "$OUT/data" && mv "$OUT/data.tmp" "$OUT/data"
fi
echo "gpu study data: $OUT/dataset (dataset.path) and ${DATA/#packaged/the packaged samples} (data_dir)"
