#!/bin/bash
# Submit the whole chain  prep -> train -> convert [-> finetune] -> eval  as dependent Slurm jobs.
#
#   bash slurm/pipeline.sh \
#     --prep "--out data/pubmed --tokenizer tok/tokenizer.json /data/pubmed/baseline /data/pubmed/updates" \
#     --train "configs/pretrain/130m.yaml" \
#     --convert "runs/130m --to hf --out runs/130m/hf --verify" \
#     --eval "--models runs/130m/hf --tasks bioasq pubmedqa --bioasq-gold gold.json --out runs/130m/eval"
#
# Each stage option holds that stage's arguments as one string (shell quoting
# inside is respected); stages left out are skipped, the rest keep this order:
#   --prep "..."      options of slurm/prep_pubmed.sh (its last job is what train waits for)
#   --train "..."     CONFIG [key=value ...] for slurm/pretrain.sh
#   --convert "..."   arguments of launcher/convert.py (slurm/convert.sh)
#   --finetune "..."  [CONFIG] [key=value ...] for slurm/finetune_bioasq.sh
#   --eval "..."      arguments of launcher/evaluate.py (slurm/eval.sh)
# sbatch options (later ones win over the scripts' #SBATCH lines):
#   --sbatch "..."    for every job;  --prep-sbatch/--train-sbatch/--convert-sbatch/
#                     --finetune-sbatch/--eval-sbatch "..." for one stage
#   --after JOBID     make the first stage wait for an existing job
#   --logs DIR        job output files                 [logs/pipeline-<date>-<time>]
#   --dry-run         print the sbatch commands, submit nothing
#
# Every job depends on the previous one with --dependency=afterok and
# --kill-on-invalid-dep=yes: when a stage fails, Slurm cancels the stages after
# it instead of leaving them pending forever.  If a submission fails, the jobs
# already submitted are cancelled.  Prints "<stage> <job id>" lines on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
: "${BIOMAMBA_ROOT:=$here}"
source "$BIOMAMBA_ROOT/slurm/common.sh"

declare -A stage_args=() stage_sbatch=()
common_sbatch="" after="" dry_run=0
logs=logs/pipeline-$(date +%Y%m%d-%H%M%S)
stages=(prep train convert finetune eval)
while [[ $# -gt 0 ]]; do
    case $1 in
        --prep|--train|--convert|--finetune|--eval) stage_args[${1#--}]=$2; shift 2 ;;
        --prep-sbatch|--train-sbatch|--convert-sbatch|--finetune-sbatch|--eval-sbatch)
            name=${1#--}; stage_sbatch[${name%-sbatch}]=$2; shift 2 ;;
        --sbatch) common_sbatch=$2; shift 2 ;;
        --after) after=$2; shift 2 ;;
        --logs) logs=$2; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$BIOMAMBA_ROOT/slurm/pipeline.sh" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) bm_die "unknown argument '$1' (see --help)" ;;
    esac
done
((${#stage_args[@]} > 0)) || bm_die "nothing to submit: give at least one of --prep/--train/--convert/--finetune/--eval"
if [[ -n $after && -v stage_args[prep] ]]; then
    bm_die "--after cannot be combined with --prep (prep_pubmed.sh starts the chain)"
fi
logs=$(realpath -m "$logs")
((dry_run)) || mkdir -p "$logs"
bm_clean_slurm_env   # may run inside a job: its SLURM_* must not leak into the new jobs
export BIOMAMBA_ROOT

declare -A script=([train]=pretrain.sh [convert]=convert.sh [finetune]=finetune_bioasq.sh [eval]=eval.sh)
submitted=()
last=$after

fail() {
    if ((${#submitted[@]})); then scancel "${submitted[@]}" || true; fi
    bm_die "$1; cancelled the jobs already submitted (${submitted[*]:-none})"
}

for stage in "${stages[@]}"; do
    [[ -v stage_args[$stage] ]] || continue
    mapfile -t args < <(bm_split_words "${stage_args[$stage]}")
    mapfile -t opts < <(bm_split_words "$common_sbatch ${stage_sbatch[$stage]:-}")
    if [[ $stage == prep ]]; then
        # prep_pubmed.sh submits its own chain and prints its job ids, the last one ending it.
        cmd=(bash "$BIOMAMBA_ROOT/slurm/prep_pubmed.sh" "${args[@]}")
        if ((${#opts[@]})); then cmd+=(--sbatch "$(printf '%q ' "${opts[@]}")"); fi
        if ((dry_run)); then cmd+=(--dry-run); fi
    else
        dep=()
        if [[ -n $last ]]; then dep=(--dependency="afterok:$last" --kill-on-invalid-dep=yes); fi
        cmd=(sbatch --parsable --chdir="$BIOMAMBA_ROOT" --output="$logs/%x-%j.out" "${dep[@]}" "${opts[@]}"
            "$BIOMAMBA_ROOT/slurm/${script[$stage]}" "${args[@]}")
    fi
    if ((dry_run)) && [[ $stage != prep ]]; then
        printf '%q ' "${cmd[@]}" >&2; echo >&2
        id="<$stage>"
    elif ((dry_run)); then
        id=$("${cmd[@]}" | tail -n 1)
    else
        out=$("${cmd[@]}") || fail "submitting stage $stage failed"
        mapfile -t ids <<<"$out"             # prep_pubmed.sh: one id a line, the last one ends its chain
        ids=("${ids[@]%%;*}")                # sbatch --parsable: "id;cluster" on multi-cluster setups
        submitted+=("${ids[@]}")
        id=${ids[-1]}
    fi
    echo "$stage $id"
    last=$id
done
((dry_run)) || bm_log "submitted; follow with: squeue --me   (job logs in $logs)" >&2
