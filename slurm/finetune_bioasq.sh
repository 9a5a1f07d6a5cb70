#!/bin/bash
# Fine-tune a pretrained BioMamba on BioASQ: one task per GPU through srun, like pretraining.
#
#   sbatch slurm/finetune_bioasq.sh [CONFIG] [key=value ...]    (CONFIG: configs/finetune/bioasq.yaml)
#
# Same machinery as slurm/pretrain.sh (docs/slurm.md): rank info from
# biomamba.slurm, checkpoint on SIGUSR1 and requeue on exit 75, node-local
# kernel caches, W&B offline in the run directory.  The same environment
# variables apply; BIOMAMBA_TRAIN_CMD replaces  $PY -u launcher/finetune.py.
#SBATCH --job-name=biomamba-finetune-bioasq
#SBATCH --partition=gpu
#SBATCH --nodes=1
#SBATCH --gpus-per-node=8
#SBATCH --ntasks-per-node=8
#SBATCH --exclusive
#SBATCH --time=12:00:00
#SBATCH --signal=B:USR1@120
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=%x-%j.out
set -euo pipefail

# Not $0: sbatch runs a copy of this file from the node's spool directory.
common=${BIOMAMBA_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}/slurm/common.sh
[[ -f $common ]] || { echo "error: no $common: submit from the repository root or set BIOMAMBA_ROOT" >&2; exit 2; }
source "$common"
bm_require_slurm slurm/finetune_bioasq.sh

bm_train_job launcher/finetune.py configs/finetune/bioasq.yaml "$@"
