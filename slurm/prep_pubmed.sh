#!/bin/bash
# PubMed XML -> token shards as a chain of Slurm jobs (data_prep CLI, docs/data_prep.md):
#
#   extract pubmed (array: file i -> task i % N)  ->  resolve  ->  clean (exact dedup)
#       ->  near-dedup: signatures (array over parts) -> buckets (array over LSH bands)
#           -> clusters -> filter (array over parts)
#       ->  split  ->  shard (array over split parts)  ->  merge-manifest
#
# Submit the chain (this small job only submits; run it with bash from a login
# node, or with sbatch):
#   sbatch slurm/prep_pubmed.sh --out data/pubmed --tokenizer tok/tokenizer.json \
#          /data/pubmed/baseline /data/pubmed/updates
#
# Options:
#   --out DIR            shards: DIR/<split>/shard-*.tar + manifest.json       (required)
#   --tokenizer PATH     .model, tokenizer.json or a folder with one           (required)
#   --work DIR           intermediate parts / records / splits           [DIR.work]
#   --tasks N            extract array size (at most one task per file)  [64]
#   --shard-tasks N      shard array size (tasks beyond the part count idle) [32]
#   --dedup-tasks N      near-dedup array size (signatures, buckets, filter) [16]
#   --dedup-mem SIZE     memory per near-dedup task (sbatch --mem)        [8G]
#   --cpus N             CPUs per array task (shard tokenizes with threads)  [4]
#   --extract-args "..." --clean-args "..." --split-args "..."  extra data_prep flags
#                        (e.g. --split-args "--exclude-bioasq bioasq.json")
#   --dedup-args "..."   flags of `data_prep neardedup` (--near-dup-threshold, --num-perm,
#                        --shingle-words, --part-mb); --clean-args --no-near-dedup skips near-dedup
#   --sbatch "..."       extra sbatch options for every job (after ours, so they win)
#   --dry-run            print the sbatch commands, submit nothing
# Prints the job ids on stdout, one a line, in order: the last one
# (merge-manifest) is what later jobs depend on.  Job logs: WORK/logs/.
# A failed job cancels everything after it (--kill-on-invalid-dep=yes); fix the
# cause and resubmit: finished parts and shards are skipped on a rerun.
#
# Internal: the jobs run this file again as  prep_pubmed.sh --stage NAME ARGS...
# which is  python -m data_prep ARGS...  in the repository's environment.
#SBATCH --job-name=biomamba-prep-submit
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --time=00:10:00
#SBATCH --output=%x-%j.out
set -euo pipefail

# Run with bash, $0 locates the repository; under sbatch $0 is a copy in the
# node's spool directory, so the submit directory (or BIOMAMBA_ROOT) does.
here=$(cd "$(dirname "$0")/.." 2>/dev/null && pwd || true)
[[ -f $here/biomamba/slurm.py ]] && : "${BIOMAMBA_ROOT:=$here}"
common=${BIOMAMBA_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}/slurm/common.sh
[[ -f $common ]] || { echo "error: no $common: submit from the repository root or set BIOMAMBA_ROOT" >&2; exit 2; }
source "$common"

# --- a stage job ------------------------------------------------------------------
if [[ ${1:-} == --stage ]]; then
    bm_require_slurm slurm/prep_pubmed.sh
    stage=$2
    shift 2
    task=${SLURM_ARRAY_TASK_ID:+ (array task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_TASK_COUNT)}
    bm_log "stage $stage$task: python -m data_prep $*"
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}
    exec "$PY" -m data_prep "$@"
fi

# --- the submitter ----------------------------------------------------------------
out="" tokenizer="" work="" tasks=64 shard_tasks=32 dedup_tasks=16 dedup_mem=8G cpus=4 dry_run=0
extract_args="" clean_args="" split_args="" dedup_args="" sbatch_extra=""
inputs=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --out) out=$2; shift 2 ;;
        --tokenizer) tokenizer=$2; shift 2 ;;
        --work) work=$2; shift 2 ;;
        --tasks) tasks=$2; shift 2 ;;
        --shard-tasks) shard_tasks=$2; shift 2 ;;
        --dedup-tasks) dedup_tasks=$2; shift 2 ;;
        --dedup-mem) dedup_mem=$2; shift 2 ;;
        --dedup-args) dedup_args=$2; shift 2 ;;
        --cpus) cpus=$2; shift 2 ;;
        --extract-args) extract_args=$2; shift 2 ;;
        --clean-args) clean_args=$2; shift 2 ;;
        --split-args) split_args=$2; shift 2 ;;
        --sbatch) sbatch_extra=$2; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) sed -n '2,/^#SBATCH/p' "$BIOMAMBA_ROOT/slurm/prep_pubmed.sh" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        --*) bm_die "unknown option $1 (see --help)" ;;
        *) inputs+=("$1"); shift ;;
    esac
done
[[ -n $out && -n $tokenizer && ${#inputs[@]} -gt 0 ]] \
    || bm_die "usage: prep_pubmed.sh --out DIR --tokenizer PATH [options] INPUT... (see --help)"
[[ -e $tokenizer ]] || bm_die "tokenizer '$tokenizer' not found"
out=$(realpath -m "$out")
work=$(realpath -m "${work:-$out.work}")
tokenizer=$(realpath "$tokenizer")

# Count the files the way data_prep expands them (folders: *.xml.gz / *.xml in
# natural order) to size the extract array; this also fails early on bad paths.
nfiles=$(cd "$BIOMAMBA_ROOT" && "$PY" -c '
import sys
from data_prep.sources.pubmed.extract_pubmed import expand_inputs
print(len(expand_inputs(sys.argv[1:])))' "${inputs[@]}") || bm_die "cannot list the inputs ${inputs[*]}"
((nfiles > 0)) || bm_die "no .xml.gz or .xml files in: ${inputs[*]}"
((tasks > nfiles)) && tasks=$nfiles
abs_inputs=()
for f in "${inputs[@]}"; do abs_inputs+=("$(realpath "$f")"); done

mapfile -t sbatch_user < <(bm_split_words "$sbatch_extra")
mapfile -t extract_user < <(bm_split_words "$extract_args")
mapfile -t clean_user < <(bm_split_words "$clean_args")
mapfile -t split_user < <(bm_split_words "$split_args")
mapfile -t dedup_user < <(bm_split_words "$dedup_args")
near=1
for a in "${clean_user[@]}"; do [[ $a == --no-near-dedup ]] && near=0; done

script=$BIOMAMBA_ROOT/slurm/prep_pubmed.sh
((dry_run)) || mkdir -p "$work/logs"   # Slurm does not create the folder of --output
bm_clean_slurm_env   # this may run inside a job: its SLURM_* must not leak into the new jobs
export BIOMAMBA_ROOT  # the jobs find the repository even when submitted from elsewhere

submitted=()
last=""
submit() {  # submit NAME [sbatch options...] -- data_prep args...
    local name=$1; shift
    local opts=()
    while [[ $1 != -- ]]; do opts+=("$1"); shift; done
    shift
    local dep=()
    [[ -n $last ]] && dep=(--dependency="afterok:$last" --kill-on-invalid-dep=yes)
    local cmd=(sbatch --parsable --job-name="biomamba-prep-$name" --chdir="$BIOMAMBA_ROOT"
        --open-mode=append "${dep[@]}" "${opts[@]}" "${sbatch_user[@]}" "$script" --stage "$name" "$@")
    if ((dry_run)); then
        printf '%q ' "${cmd[@]}" >&2; echo >&2
        last="<$name>"
        echo "$last"
        return
    fi
    local id
    if ! id=$("${cmd[@]}"); then
        ((${#submitted[@]})) && scancel "${submitted[@]}" || true
        bm_die "sbatch failed for stage $name; cancelled the jobs already submitted (${submitted[*]:-none})"
    fi
    id=${id%%;*}
    submitted+=("$id")
    last=$id
    echo "submitted $name: job $id" >&2
    echo "$id"
}

array=(--nodes=1 --ntasks=1 --cpus-per-task="$cpus" --time=12:00:00)
single=(--nodes=1 --ntasks=1 --cpus-per-task="$cpus" --mem=0 --time=24:00:00)
submit extract --array="0-$((tasks - 1))" "${array[@]}" --output="$work/logs/%x-%A_%a.out" -- \
    extract pubmed "${abs_inputs[@]}" --out "$work/parts" "${extract_user[@]}"
submit resolve "${single[@]}" --output="$work/logs/%x-%j.out" -- \
    resolve "$work/parts" --out "$work/records.jsonl"
if ((near)); then
    # Near-dedup as array stages (data_prep/stages/clean/neardedup.py): clean does the exact dedup only,
    # and each near-dedup task holds one part or one LSH band, not the whole index.
    submit clean "${single[@]}" --output="$work/logs/%x-%j.out" -- \
        clean "$work/records.jsonl" --out "$work/clean.jsonl" "${clean_user[@]}" --no-near-dedup
    nd=(neardedup "$work/clean.jsonl" --work "$work/neardedup" "${dedup_user[@]}")
    dedup_array=(--array="0-$((dedup_tasks - 1))" --nodes=1 --ntasks=1 --cpus-per-task=1 --mem="$dedup_mem"
                 --time=12:00:00 --output="$work/logs/%x-%A_%a.out")
    submit dedup-signatures "${dedup_array[@]}" -- "${nd[0]}" signatures "${nd[@]:1}"
    submit dedup-buckets "${dedup_array[@]}" -- "${nd[0]}" buckets "${nd[@]:1}"
    submit dedup-clusters --nodes=1 --ntasks=1 --cpus-per-task=1 --mem="$dedup_mem" --time=12:00:00 \
        --output="$work/logs/%x-%j.out" -- "${nd[0]}" clusters "${nd[@]:1}"
    submit dedup-filter "${dedup_array[@]}" -- "${nd[0]}" filter "${nd[@]:1}"
    split_input=$work/neardedup/out
else
    submit clean "${single[@]}" --output="$work/logs/%x-%j.out" -- \
        clean "$work/records.jsonl" --out "$work/clean.jsonl" "${clean_user[@]}"
    split_input=$work/clean.jsonl
fi
submit split "${single[@]}" --output="$work/logs/%x-%j.out" -- \
    split "$split_input" --out "$work/splits" "${split_user[@]}"
submit shard --array="0-$((shard_tasks - 1))" "${array[@]}" --output="$work/logs/%x-%A_%a.out" -- \
    shard --input "$work/splits" --tokenizer "$tokenizer" --out "$out" --threads "$cpus"
submit merge --nodes=1 --ntasks=1 --cpus-per-task=1 --time=01:00:00 --output="$work/logs/%x-%j.out" -- \
    merge-manifest "$out"
