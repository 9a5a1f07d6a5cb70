#!/bin/bash
# Multi-node pretraining: one trainer task per GPU, checkpoint + requeue before the time limit.
#
#   sbatch slurm/pretrain.sh CONFIG [key=value ...]          (from the repository root)
#   sbatch --nodes=8 --time=48:00:00 slurm/pretrain.sh configs/pretrain/1.4b.yaml max_steps=100000
#
# Any #SBATCH line below is overridden by the same sbatch option on the command
# line (or SBATCH_* environment variables).  On CPU-only nodes (the test
# cluster) override the GPU request, e.g.
#   sbatch --partition=cpu --gpus-per-node=0 --ntasks-per-node=1 slurm/pretrain.sh CONFIG
#
# The run directory is the config's run_dir: a requeued or resubmitted job with
# the same config resumes from <run_dir>/checkpoints/latest.
#
# Environment (optional; see also slurm/common.sh and docs/slurm.md):
#   BIOMAMBA_CONFIG          CONFIG when no positional argument is given
#   BIOMAMBA_RUN_DIR         passed as the first override run_dir=... (later overrides win)
#   BIOMAMBA_TASKS_PER_NODE  tasks per node            [GPUs per node, 1 without GPUs]
#   BIOMAMBA_DIST_BACKEND    torch.distributed backend [nccl with GPUs, gloo without]
#   BIOMAMBA_TRAIN_CMD       trainer command           [$PY -u launcher/train.py]
#   BIOMAMBA_SRUN_WAIT       seconds the other ranks get after the first one exits [120]
#   BIOMAMBA_MAX_REQUEUES    stop requeueing after this many restarts  [50]
#   WANDB_MODE, WANDB_DIR    [offline, the run directory]
#
# The trainer is called as  TRAIN_CMD --config CONFIG [key=value ...]  on every
# task (and once with --dry-run on the batch node to check the config and learn
# run_dir); it reads its rank from biomamba.slurm and exits 0 (done), 75
# (checkpointed after SIGUSR1/SIGTERM, requeue me) or 2 (bad config).
#SBATCH --job-name=biomamba-pretrain
#SBATCH --partition=gpu
#SBATCH --nodes=2
#SBATCH --gpus-per-node=8
#SBATCH --ntasks-per-node=8
#SBATCH --exclusive
#SBATCH --time=24:00:00
#SBATCH --signal=B:USR1@120
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=%x-%j.out
set -euo pipefail

# Not $0: sbatch runs a copy of this file from the node's spool directory.
common=${BIOMAMBA_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}/slurm/common.sh
[[ -f $common ]] || { echo "error: no $common: submit from the repository root or set BIOMAMBA_ROOT" >&2; exit 2; }
source "$common"
bm_require_slurm slurm/pretrain.sh

bm_train_job launcher/train.py "" "$@"
