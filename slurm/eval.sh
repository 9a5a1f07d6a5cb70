#!/bin/bash
# Evaluate a converted (Hugging Face) model: perplexity / bits per byte, BioASQ, PubMedQA.
#
#   sbatch slurm/eval.sh [launcher/evaluate.py arguments ...]
#
# One process on one GPU (on a CPU-only node: sbatch --gpus-per-node=0 ...).
# Arguments go to launcher/evaluate.py unchanged.
#   BIOMAMBA_EVAL_CMD   replaces  $PY -u launcher/evaluate.py
#SBATCH --job-name=biomamba-eval
#SBATCH --partition=gpu
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --gpus-per-node=1
#SBATCH --cpus-per-task=8
#SBATCH --time=04:00:00
#SBATCH --output=%x-%j.out
set -euo pipefail

# Not $0: sbatch runs a copy of this file from the node's spool directory.
common=${BIOMAMBA_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}/slurm/common.sh
[[ -f $common ]] || { echo "error: no $common: submit from the repository root or set BIOMAMBA_ROOT" >&2; exit 2; }
source "$common"
bm_require_slurm slurm/eval.sh

bm_node_local_caches   # Triton kernels of the Mamba scan compile on first use
export WANDB_MODE=${WANDB_MODE:-offline}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}
bm_exec_launcher BIOMAMBA_EVAL_CMD launcher/evaluate.py "$@"
