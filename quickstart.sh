#!/usr/bin/env bash
# The whole BioMamba pipeline on the embedded sample, on a laptop-class CPU machine:
# environment -> extract -> tokenizer -> shards -> pretrain (2 processes, DeepSpeed) -> HF export
# -> evaluation -> summary table and plot. Extra arguments are pipeline overrides (key=value).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup_env.sh
exec .venv/bin/python -m biomamba.pipeline --config configs/pipeline/quickstart.yaml "$@"
