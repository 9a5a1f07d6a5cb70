#!/usr/bin/env bash
# Create (or update) .venv with BioMamba and its dependencies.
#
#   scripts/setup_env.sh            # CPU install: torch==2.13.0 first, then the project (+dev extras)
#   scripts/setup_env.sh --test     # also mamba-ssm as a pure-Python wheel (its reference scan, for the tests)
#
# torch is installed FIRST and pinned (BIOMAMBA_TORCH, default 2.13.0 — the CPU wheel on this
# kind of machine) so no later requirement can pull a multi-GB CUDA build. On a GPU cluster use
# BIOMAMBA_TORCH=<a CUDA build's version> and then `pip install -e .[gpu] --no-build-isolation`.
# Re-running is cheap: a stamp of pyproject.toml skips the project install when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
TORCH="${BIOMAMBA_TORCH:-2.13.0}"
WITH_TEST=0
[ "${1:-}" = "--test" ] && WITH_TEST=1

[ -x .venv/bin/python ] || "$PY" -m venv .venv
VPY=.venv/bin/python
PIP=("$VPY" -m pip install -q --disable-pip-version-check)
stamp=".venv/.biomamba-stamp"
want="$(sha256sum pyproject.toml | cut -d' ' -f1) torch=$TORCH test=$WITH_TEST"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "[setup] .venv is up to date"
  exit 0
fi
echo "[setup] installing torch==$TORCH and BioMamba into .venv (a few minutes on a fresh machine)"
"${PIP[@]}" --upgrade pip
"${PIP[@]}" "torch==$TORCH"
"${PIP[@]}" -e ".[dev]"
if [ "$WITH_TEST" = 1 ]; then
  # mamba-ssm only for its pure-PyTorch reference scan: skip the CUDA build (FORCE_BUILD avoids its
  # torch.version.cuda check), build against the installed torch (no isolation), and skip its ~1 GB
  # of GPU dependencies (triton, tilelang, ...) — einops is all the reference needs.
  MAMBA_SKIP_CUDA_BUILD=TRUE MAMBA_FORCE_BUILD=TRUE CAUSAL_CONV1D_SKIP_CUDA_BUILD=TRUE \
    "${PIP[@]}" --no-build-isolation --no-deps "mamba-ssm>=2.2,<3"
  "${PIP[@]}" einops
  # Triton for the GPU scan kernels' tests: on CPU they run under its interpreter (TRITON_INTERPRET=1).
  # CUDA builds of torch ship their own matching triton; the CPU wheel does not, so it is added here.
  "${PIP[@]}" "triton>=3.4,<4"
fi
"$VPY" -c "import torch; assert torch.__version__.startswith('$TORCH'), torch.__version__"
echo "$want" > "$stamp"
echo "[setup] done: $("$VPY" -c 'from importlib.metadata import version as v; print(" | ".join(f"{p} {v(p)}" for p in ("torch", "deepspeed", "megatron-core", "transformers")))')"
