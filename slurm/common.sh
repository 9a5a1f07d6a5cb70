# Shared setup for the slurm/*.sh job scripts; sourced, never run.
#
# sbatch copies a job script to the node's spool directory, so a script cannot
# find its neighbours through $0.  Every job script therefore locates the
# repository as  BIOMAMBA_ROOT > SLURM_SUBMIT_DIR (submit from the repo root)
# and sources this file from there.
#
# Environment read here (all optional):
#   BIOMAMBA_ROOT        repository to run from              [$SLURM_SUBMIT_DIR]
#   BIOMAMBA_PYTHON      python executable                   [$BIOMAMBA_VENV/bin/python,
#   BIOMAMBA_VENV        virtual environment                  $BIOMAMBA_ROOT/.venv/bin/python, python3]
#   BIOMAMBA_NODE_CACHE  node-local cache root               [${TMPDIR:-/tmp}/biomamba-cache-$USER]

bm_log() { echo "[$(date '+%F %T')] [job ${SLURM_JOB_ID:-none}] $*"; }
bm_die() { echo "[$(date '+%F %T')] [job ${SLURM_JOB_ID:-none}] error: $*" >&2; exit 2; }

# --- repository and python ---------------------------------------------------
BIOMAMBA_ROOT=${BIOMAMBA_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}
[[ -f $BIOMAMBA_ROOT/biomamba/slurm.py ]] \
    || bm_die "$BIOMAMBA_ROOT is not the BioMamba repository: submit from the repository root or set BIOMAMBA_ROOT"
cd "$BIOMAMBA_ROOT"
export BIOMAMBA_ROOT
# launcher/*.py put launcher/ (not the root) on sys.path; make `import biomamba` work uninstalled.
export PYTHONPATH="$BIOMAMBA_ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1   # logs appear in the job output as they happen

if [[ -n ${BIOMAMBA_PYTHON:-} ]]; then
    PY=$BIOMAMBA_PYTHON
elif [[ -n ${BIOMAMBA_VENV:-} ]]; then
    PY=$BIOMAMBA_VENV/bin/python
elif [[ -x $BIOMAMBA_ROOT/.venv/bin/python ]]; then
    PY=$BIOMAMBA_ROOT/.venv/bin/python
else
    PY=python3
fi
command -v "$PY" >/dev/null || bm_die "python '$PY' not found (set BIOMAMBA_PYTHON or BIOMAMBA_VENV)"

# Before sbatch from inside a job: the job's SLURM_* variables would leak into
# the new job (a stale SLURM_ARRAY_TASK_ID, srun input variables such as
# SLURM_NTASKS).  SLURM_CONF stays: it may be how sbatch finds the cluster.
bm_clean_slurm_env() {
    local v
    for v in $(compgen -e); do
        if [[ $v == SLURM_* && $v != SLURM_CONF ]]; then unset "$v"; fi
    done
}

# bm_split_words STRING: its shell-like words (quotes respected), one per line,
# nothing for an empty string; for options given as one string ("--sbatch '...'").
bm_split_words() {
    "$PY" -c 'import shlex, sys; w = shlex.split(sys.argv[1]); w and print("\n".join(w))' "$1"
}

# bm_exec_launcher OVERRIDE_VAR SCRIPT ARGS...: exec "$PY -u SCRIPT ARGS", or the command held in
# the variable named OVERRIDE_VAR (tests point it at a stand-in; users at a wrapper).
bm_exec_launcher() {
    local override=$1 script=$2
    shift 2
    local -a cmd
    if [[ -n ${!override:-} ]]; then
        read -r -a cmd <<<"${!override}"
    else
        cmd=("$PY" -u "$script")
    fi
    bm_log "running: ${cmd[*]} $*"
    exec "${cmd[@]}" "$@"
}

bm_require_slurm() {
    [[ -n ${SLURM_JOB_ID:-} ]] || bm_die "not inside a Slurm job: submit with sbatch ${1:-slurm/<script>.sh} ..."
}

# --- node-local caches ---------------------------------------------------------
# Triton's kernel cache on a shared filesystem races between ranks and nodes
# (triton-lang/triton#2688); the same holds for torch's extension builds.  Use
# a path on each node's local disk: the string is the same on every node, the
# directory is not.  Kept across jobs so compiled kernels are reused.
bm_node_local_caches() {
    local user; user=$(id -un)
    BIOMAMBA_NODE_CACHE=${BIOMAMBA_NODE_CACHE:-${TMPDIR:-/tmp}/biomamba-cache-$user}
    export TRITON_CACHE_DIR=${TRITON_CACHE_DIR:-$BIOMAMBA_NODE_CACHE/triton}
    export TORCH_EXTENSIONS_DIR=${TORCH_EXTENSIONS_DIR:-$BIOMAMBA_NODE_CACHE/torch_extensions}
    export BIOMAMBA_NODE_CACHE
}

# --- run directory and W&B --------------------------------------------------------
# bm_resolve_run_dir CMD... : run the launcher with --dry-run (prints the resolved
# config) on the batch node and print the absolute run_dir it names.  A bad
# config fails here in seconds with the launcher's exit code (2) instead of on
# every task, and the shell learns the run directory without parsing YAML
# itself.  The launcher's own --config / key=value must already be in CMD.
bm_resolve_run_dir() {
    local resolved
    resolved=$("$@" --dry-run) || return $?
    "$PY" -c '
import os, re, sys, yaml
m = re.search(r"^run_dir:(.*)$", sys.stdin.read(), re.M)
print(os.path.abspath(yaml.safe_load(m.group(1))) if m and yaml.safe_load(m.group(1)) else "")
' <<<"$resolved"
}

# Compute nodes usually have no internet: W&B logs offline into the shared run
# directory (<run_dir>/wandb/...), synced later from a login node.
bm_wandb_offline() {  # bm_wandb_offline RUN_DIR
    export WANDB_MODE=${WANDB_MODE:-offline}
    [[ -n $1 ]] || return 0
    export WANDB_DIR=${WANDB_DIR:-$1}
    mkdir -p "$WANDB_DIR"
}

# --- distributed layout ------------------------------------------------------------
# One task per GPU, started by srun (see docs/slurm.md for why not torchrun).
# Sets and exports MASTER_ADDR, MASTER_PORT, BIOMAMBA_DIST_BACKEND; sets
# BM_NODES, BM_TASKS_PER_NODE, BM_CPUS_PER_TASK, BM_GPUS_PER_NODE and BM_SRUN.
bm_dist_setup() {
    local hosts default_backend
    mapfile -t hosts < <(scontrol show hostnames "$SLURM_JOB_NODELIST")
    ((${#hosts[@]} > 0)) || bm_die "scontrol show hostnames '$SLURM_JOB_NODELIST' gave no host"
    # Rank 0 runs on the first node of the allocation: it hosts the rendezvous.
    export MASTER_ADDR=${MASTER_ADDR:-${hosts[0]}}
    # The same function the Python side uses, so both agree on the port.
    export MASTER_PORT=${MASTER_PORT:-$("$PY" -c \
        'import sys; from biomamba.slurm import master_port_from_job_id as p; print(p(sys.argv[1]))' \
        "$SLURM_JOB_ID")}

    # GPUs on this (the first) node; nodes of one job are assumed alike.
    BM_GPUS_PER_NODE=${SLURM_GPUS_ON_NODE:-}
    if [[ -z $BM_GPUS_PER_NODE ]]; then
        BM_GPUS_PER_NODE=0
        if command -v nvidia-smi >/dev/null; then
            BM_GPUS_PER_NODE=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
        fi
    fi
    # One task per GPU; CPU-only nodes get one task each unless told otherwise.
    if [[ -n ${BIOMAMBA_TASKS_PER_NODE:-} ]]; then
        BM_TASKS_PER_NODE=$BIOMAMBA_TASKS_PER_NODE
    elif ((BM_GPUS_PER_NODE > 0)); then
        BM_TASKS_PER_NODE=$BM_GPUS_PER_NODE
    else
        BM_TASKS_PER_NODE=1
    fi
    local cpus=${SLURM_CPUS_ON_NODE:-1}
    ((cpus >= BM_TASKS_PER_NODE)) || bm_die "the allocation has $cpus CPUs per node, fewer than" \
        "$BM_TASKS_PER_NODE tasks per node: add --exclusive or --cpus-per-task to sbatch"
    BM_CPUS_PER_TASK=$((cpus / BM_TASKS_PER_NODE))
    BM_NODES=$SLURM_JOB_NUM_NODES
    if ((BM_GPUS_PER_NODE > 0)); then default_backend=nccl; else default_backend=gloo; fi
    export BIOMAMBA_DIST_BACKEND=${BIOMAMBA_DIST_BACKEND:-$default_backend}
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$BM_CPUS_PER_TASK}
    bm_log "nodes=$BM_NODES ($SLURM_JOB_NODELIST) tasks/node=$BM_TASKS_PER_NODE cpus/task=$BM_CPUS_PER_TASK" \
        "gpus/node=$BM_GPUS_PER_NODE backend=$BIOMAMBA_DIST_BACKEND master=$MASTER_ADDR:$MASTER_PORT" \
        "restart=${SLURM_RESTART_COUNT:-0}"

    # The srun line for these tasks (an array, so callers can run it in the
    # background and signal srun itself).  --wait: after the first task exits
    # the others get BIOMAMBA_SRUN_WAIT seconds to follow, then are killed, so a
    # crashed rank never leaves the rest hanging in a collective.  Not
    # --kill-on-bad-exit: it kills the other ranks the moment one exits 75, and
    # srun then reports 143 instead of the 75 that asks for a requeue.
    BM_SRUN=(srun --nodes="$BM_NODES" --ntasks=$((BM_NODES * BM_TASKS_PER_NODE))
        --ntasks-per-node="$BM_TASKS_PER_NODE" --cpus-per-task="$BM_CPUS_PER_TASK"
        --kill-on-bad-exit=0 --wait="${BIOMAMBA_SRUN_WAIT:-120}")
}

# --- checkpoint-and-requeue ---------------------------------------------------------
# SIGUSR1 to the batch shell (sbatch --signal=B:USR1@120, or scancel --batch -s USR1)
# means "the time limit is near: checkpoint and requeue".  While the tasks run
# (BM_PID is srun) it is forwarded to srun, which passes it to every task: the
# trainer checkpoints and exits 75 (docs/CONTRACTS.md).  Before they start it
# is remembered in BM_USR1_EARLY: with under two minutes left there is no point
# starting them (and a task that has not installed its handler yet would die).
BM_PID="" BM_USR1_EARLY=0 BM_USR1_SENT=0 BM_GOT_TERM=0
bm_on_usr1() {
    if [[ -n $BM_PID ]]; then
        bm_log "SIGUSR1: asking the tasks to checkpoint and exit"
        BM_USR1_SENT=1
        kill -USR1 "$BM_PID" 2>/dev/null || true
    else
        bm_log "SIGUSR1 before the tasks started"
        BM_USR1_EARLY=1
    fi
}
# SIGTERM (scancel, time limit, preemption) is NOT forwarded: Slurm sends it to
# every task itself and gives them KillWait seconds, while srun turns a SIGTERM
# sent to it alone into an immediate SIGKILL of its tasks (measured), which
# would cut a checkpoint short.  The shell keeps waiting and never requeues
# afterwards: a cancelled job must stay cancelled, and a preempted one is
# requeued by Slurm itself.
bm_on_term() {
    bm_log "SIGTERM: waiting for the tasks to save; this run will not requeue itself"
    BM_GOT_TERM=1
}

# bm_requeue_self: put this job back in the queue (same id, arguments, run
# directory; SLURM_RESTART_COUNT + 1), unless SIGTERM came or the limit is reached.
bm_requeue_self() {
    local restarts=${SLURM_RESTART_COUNT:-0} max=${BIOMAMBA_MAX_REQUEUES:-50}
    if ((BM_GOT_TERM)); then
        bm_log "not requeueing after SIGTERM (resubmit the same command to resume)"
    elif ((restarts >= max)); then
        bm_log "not requeueing: the job was already requeued $restarts times (BIOMAMBA_MAX_REQUEUES=$max)"
    else
        # Logged BEFORE the requeue: slurmctld kills this batch script as soon as the requeue is accepted,
        # so a line after `scontrol requeue` is lost whenever the kill wins the race (seen under load).
        bm_log "requeueing job $SLURM_JOB_ID; it resumes as restart $((restarts + 1))"
        scontrol requeue "$SLURM_JOB_ID" && return 0
        bm_log "'scontrol requeue $SLURM_JOB_ID' failed; resubmit to resume"
    fi
}

# bm_run_requeueable CMD...: run CMD (an srun line; an executable, not a shell
# function, so that $! is srun itself) in the background, wait, and requeue the
# job when it exits 75.  Returns CMD's exit status (75 also after a successful
# requeue, so a job whose requeue silently failed never counts as done for
# --dependency=afterok).
bm_run_requeueable() {
    local rc
    trap bm_on_usr1 USR1
    trap bm_on_term TERM
    if ((BM_USR1_EARLY)); then
        bm_log "the time limit is near before the tasks started: requeueing without starting them"
        bm_requeue_self
        return 75
    fi
    # Background + wait: bash runs a trap only between commands, and `wait` is
    # interruptible while a foreground srun is not.
    "$@" &
    BM_PID=$!
    while :; do
        rc=0
        wait "$BM_PID" || rc=$?
        # >128 with the child alive: a trapped signal interrupted wait; keep waiting.
        ((rc > 128)) && kill -0 "$BM_PID" 2>/dev/null && continue
        break
    done
    trap - USR1 TERM
    BM_PID=""
    if ((rc == 138 && ${BM_USR1_SENT:-0})); then
        # 128 + SIGUSR1: the signal reached tasks still starting (before they install their handler, e.g.
        # with cold imports). Nothing newer than the last complete checkpoint existed, so requeue from it.
        bm_log "the tasks were still starting when SIGUSR1 came (exit 138): requeueing from the last complete checkpoint"
        bm_requeue_self
        return 75
    fi
    ((rc == 75)) || return "$rc"
    bm_log "the tasks checkpointed and exited 75"
    bm_requeue_self
    return 75
}

# --- the whole body of a distributed training job ------------------------------------
# bm_train_job LAUNCHER DEFAULT_CONFIG [CONFIG] [key=value ...]
#   CONFIG: the first argument unless it is a key=value (then DEFAULT_CONFIG, or
#   $BIOMAMBA_CONFIG).  Runs  $BIOMAMBA_TRAIN_CMD (default: $PY -u LAUNCHER)
#   --config CONFIG [run_dir=$BIOMAMBA_RUN_DIR] key=value ...  on every task, with
#   checkpoint-and-requeue; exits with the tasks' status.
bm_train_job() {
    local launcher=$1 config=${BIOMAMBA_CONFIG:-$2}
    shift 2
    trap bm_on_usr1 USR1   # from now on a time-limit signal is never lost
    trap bm_on_term TERM
    if [[ $# -gt 0 && $1 != *=* ]]; then config=$1; shift; fi
    [[ -n $config ]] || bm_die "usage: sbatch slurm/<script>.sh CONFIG [key=value ...]"
    [[ -f $config ]] || bm_die "config '$config' not found (relative paths are from $BIOMAMBA_ROOT)"
    local train_cmd run_dir rc=0
    if [[ -n ${BIOMAMBA_TRAIN_CMD:-} ]]; then
        read -r -a train_cmd <<<"$BIOMAMBA_TRAIN_CMD"
    else
        train_cmd=("$PY" -u "$launcher")
    fi
    train_cmd+=(--config "$config" ${BIOMAMBA_RUN_DIR:+"run_dir=$BIOMAMBA_RUN_DIR"} "$@")

    run_dir=$(bm_resolve_run_dir "${train_cmd[@]}") || {
        rc=$?
        bm_log "error: the config check (${train_cmd[*]} --dry-run) failed with exit $rc"
        exit "$rc"
    }
    bm_wandb_offline "$run_dir"
    bm_node_local_caches
    bm_dist_setup
    bm_log "run dir ${run_dir:-?}; tasks run: ${train_cmd[*]}"
    bm_run_requeueable "${BM_SRUN[@]}" "${train_cmd[@]}" || rc=$?
    bm_log "tasks exited with $rc"
    exit "$rc"
}
