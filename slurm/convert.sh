#!/bin/bash
# Convert a training checkpoint (DeepSpeed ZeRO + TP shards) to a Hugging Face directory.
#
#   sbatch slurm/convert.sh [launcher/convert.py arguments ...]
#   sbatch slurm/convert.sh --help                 (prints convert.py's usage into the job output)
#
# A single process on one CPU node: consolidating ZeRO optimizer shards of the
# larger models needs tens of GB of host memory, hence --mem=0 (the whole node).
# Arguments go to launcher/convert.py unchanged.
#   BIOMAMBA_CONVERT_CMD   replaces  $PY -u launcher/convert.py
#SBATCH --job-name=biomamba-convert
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=8
#SBATCH --mem=0
#SBATCH --time=04:00:00
#SBATCH --output=%x-%j.out
set -euo pipefail

# Not $0: sbatch runs a copy of this file from the node's spool directory.
common=${BIOMAMBA_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}/slurm/common.sh
[[ -f $common ]] || { echo "error: no $common: submit from the repository root or set BIOMAMBA_ROOT" >&2; exit 2; }
source "$common"
bm_require_slurm slurm/convert.sh

export OMP_NUM_THREADS=${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}
bm_exec_launcher BIOMAMBA_CONVERT_CMD launcher/convert.py "$@"
