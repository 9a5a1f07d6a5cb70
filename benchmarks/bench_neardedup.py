"""Near-dedup benchmark: staged array tasks against the single-process method, on planted duplicates.

    python benchmarks/bench_neardedup.py [--docs 200000] [--tasks 8] [--parallel 2] [--keep DIR]

1. Writes a synthetic corpus (``data_prep.synthetic.planted_dups``): ``--docs`` documents, ~20% of them
   planted copies of an earlier one at measured word-5-gram Jaccard similarities 0.5-0.97.
2. Baseline: ``python -m data_prep clean IN --no-exact-dedup`` (today's single process: the
   whole MinHash-LSH index in memory), one process.
3. Staged: ``python -m data_prep neardedup <stage>`` with ``--tasks`` array tasks per stage,
   ``--parallel`` of them at a time (this machine's cores), stages one after the other.
4. Per process: peak RSS (VmHWM, read by the process itself at exit) and CPU time (user +
   system, from ``wait4``). Reports the largest staged task's RSS over the single process's,
   the total staged CPU over the single process's, recall on the planted pairs at J >= 0.9,
   and whether the kept records are byte-identical.

Both sides run the same interpreter with the same thread settings (1 thread each).
Prints ``BENCH`` lines and writes the ``bench_neardedup`` section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.common import bench_line, machine, record_results  # noqa: E402

# Runs ``python -m data_prep ARGS`` and ends stderr with the peak RSS the process reached (VmHWM, kB).
_WRAP = (
    "import os, runpy, sys\n"
    "sys.argv = ['data_prep'] + sys.argv[1:]\n"
    "code = 0\n"
    "try:\n"
    "    runpy.run_module('data_prep', run_name='__main__')\n"
    "except SystemExit as e:\n"
    "    code = e.code or 0\n"
    "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
    "sys.stderr.write('\\nVMHWM_KB ' + hwm + '\\n')\n"
    "sys.exit(code)\n"
)
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
       "PYTHONPATH": str(REPO)}


def start(args: list[str]) -> tuple[subprocess.Popen, Path]:
    err = Path(tempfile.mkstemp(prefix="bench_neardedup-", suffix=".err")[1])
    with open(err, "wb") as f:  # a file, not a pipe: nobody reads while several run
        proc = subprocess.Popen([sys.executable, "-c", _WRAP, *args], env=ENV, stdout=subprocess.DEVNULL, stderr=f,
                                cwd=REPO)
    return proc, err


def finish(proc: subprocess.Popen, err_file: Path) -> dict:
    """Wait for ``proc``: its CPU seconds (wait4, this child only) and peak RSS in MiB."""
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = err_file.read_text(errors="replace")
    err_file.unlink()
    hwm = [line.split()[1] for line in err.splitlines() if line.startswith("VMHWM_KB ")]
    if proc.returncode != 0 or not hwm:
        raise RuntimeError(f"{proc.args[3:]} failed ({proc.returncode}):\n{err[-2000:]}")
    return {"cpu_s": ru.ru_utime + ru.ru_stime, "rss_mib": int(hwm[0]) / 1024}


def run_many(argvs: list[list[str]], parallel: int) -> list[dict]:
    """Run the commands ``parallel`` at a time (like an array job throttled to ``%parallel``)."""
    results, running, todo = [], [], list(argvs)
    while todo or running:
        while todo and len(running) < parallel:
            running.append(start(todo.pop(0)))
        proc, r = running.pop(0)
        results.append(finish(proc, r))
    return results


def recall_at(pairs: list[dict], clusters_file: Path, j: float) -> tuple[float, int]:
    cluster_of = {}
    for line in open(clusters_file):
        c = json.loads(line)
        for i in c["kept"] + [x[0] for x in c["removed"]]:
            cluster_of[i] = c["cluster"]
    high = [p for p in pairs if p["jaccard"] >= j]
    found = sum(1 for p in high if p["copy"] in cluster_of and cluster_of[p["copy"]] == cluster_of.get(p["source"]))
    return found / max(1, len(high)), len(high)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=200_000)
    ap.add_argument("--tasks", type=int, default=8)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--keep", default=None, help="keep the work folder here")
    args = ap.parse_args()
    from data_prep.synthetic.planted_dups import planted_corpus

    work = Path(args.keep or tempfile.mkdtemp(prefix="bench_neardedup-"))
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / "planted.jsonl"
    t0 = time.perf_counter()
    pairs = planted_corpus(corpus, args.docs, dup_fraction=0.2, seed=17)
    size_mb = corpus.stat().st_size / 2**20
    print(f"corpus: {args.docs:,} docs, {len(pairs):,} planted pairs, {size_mb:.0f} MiB "
          f"({time.perf_counter() - t0:.0f} s)", flush=True)

    t0 = time.perf_counter()
    single = run_many([["clean", str(corpus), "--out", str(work / "single.jsonl"), "--no-exact-dedup"]], 1)[0]
    t_single = time.perf_counter() - t0
    print(f"single process: {single} in {t_single:.0f} s", flush=True)

    part_mb = max(0.01, size_mb / (2 * args.tasks))  # two parts per task
    nd = str(work / "staged")
    shutil.rmtree(nd, ignore_errors=True)
    common = [str(corpus), "--work", nd, "--part-mb", f"{part_mb:.4f}", "--num-tasks", str(args.tasks)]
    stages, t_staged = {}, time.perf_counter()
    for stage, n in (("signatures", args.tasks), ("buckets", args.tasks), ("clusters", 1), ("filter", args.tasks)):
        t0 = time.perf_counter()
        argv = [["neardedup", stage, *common[:-1], str(n), "--task-index", str(i)] for i in range(n)]
        stages[stage] = {"runs": run_many(argv, args.parallel), "wall_s": time.perf_counter() - t0}
        print(f"{stage}: {stages[stage]}", flush=True)
    t_staged = time.perf_counter() - t_staged

    parts = sorted((work / "staged" / "out").glob("part-*.jsonl"))
    same = b"".join(p.read_bytes() for p in parts) == (work / "single.jsonl").read_bytes()
    recall, n_high = recall_at(pairs, work / "staged" / "clusters" / "clusters.jsonl", 0.9)
    all_runs = [r for s in stages.values() for r in s["runs"]]
    rss_ratio = max(r["rss_mib"] for r in all_runs) / single["rss_mib"]
    cpu_ratio = sum(r["cpu_s"] for r in all_runs) / single["cpu_s"]
    stats = json.loads((work / "staged" / "clusters" / "stats.json").read_text())
    lines = [
        bench_line("neardedup_task_rss_over_single", rss_ratio, "<=", 0.25),
        bench_line("neardedup_cpu_over_single", cpu_ratio, "<=", 1.5),
        bench_line("neardedup_recall_j90", recall, ">=", 0.95),
        bench_line("neardedup_same_kept_as_single", 1.0 if same else 0.0, ">=", 1.0),
    ]
    rows = "\n".join(
        f"| staged `{s}` ({len(v['runs'])} task{'s' * (len(v['runs']) > 1)}, {min(args.parallel, len(v['runs']))} at a time) "
        f"| {max(r['rss_mib'] for r in v['runs']):,.0f} | {sum(r['cpu_s'] for r in v['runs']):,.1f} | {v['wall_s']:,.1f} |"
        for s, v in stages.items())
    n = args.docs
    bands = stats["info"]["bands"]
    members = sum(json.loads(p.read_text())["members"] for p in (work / "staged" / "buckets").glob("band-*.json"))
    rates = "\n".join([
        f"RATE neardedup_signatures_docs_per_core_s {n / sum(r['cpu_s'] for r in stages['signatures']['runs']):.1f}",
        f"RATE neardedup_buckets_doc_bands_per_core_s "
        f"{n * bands / sum(r['cpu_s'] for r in stages['buckets']['runs']):.1f}",
        f"RATE neardedup_bucket_members_per_doc {members / n:.3f}",
        f"RATE neardedup_task_base_rss_bytes {min(r['rss_mib'] for r in stages['filter']['runs']) * 2**20:.0f}",
        f"RATE neardedup_clusters_docs_per_core_s {n / stages['clusters']['runs'][0]['cpu_s']:.1f}",
        f"RATE neardedup_filter_docs_per_core_s {n / sum(r['cpu_s'] for r in stages['filter']['runs']):.1f}",
        f"RATE neardedup_single_docs_per_core_s {n / single['cpu_s']:.1f}",
        f"RATE neardedup_single_rss_bytes_per_doc {single['rss_mib'] * 2**20 / n:.0f}",
    ])
    body = f"""Corpus: {n:,} synthetic documents (`data_prep.synthetic.planted_dups`, seed 17, {size_mb:.0f} MiB JSONL), {len(pairs):,}
planted near-duplicate pairs at measured word-5-gram Jaccard 0.39-0.99 ({n_high:,} with J >= 0.9). Threshold 0.85,
128 permutations, 9 bands x 13 rows. Every process single-threaded; peak RSS is the process's own VmHWM, CPU is
user+system from `wait4`. Measured under load from parallel work (load average at the end: {os.getloadavg()[0]:.1f}),
so wall times are noisy; CPU and RSS are the steadier measures.

| run | peak RSS (MiB) | CPU (s) | wall (s) |
|---|---|---|---|
| single process: `clean --no-exact-dedup` (today's in-memory LSH) | {single['rss_mib']:,.0f} | {single['cpu_s']:,.1f} | {t_single:,.1f} |
{rows}
| staged, all stages | max {max(r['rss_mib'] for r in all_runs):,.0f} | {sum(r['cpu_s'] for r in all_runs):,.1f} | {t_staged:,.1f} |

Result: {stats['dropped'].get('near_duplicate', 0):,} near duplicates removed in {stats['info']['clusters']:,} clusters
({stats['info']['clusters_with_several_kept']:,} clusters keep more than one document: chains); kept records
byte-identical to the single process: {same}. Recall at J >= 0.9 counts a planted pair as found when both
documents are in one cluster.

```
{chr(10).join(lines)}
```

Per-core rates for `python -m data_prep plan` (from this run):

```
{rates}
```
"""
    record_results("bench_neardedup", body)
    print(f"machine: {machine()}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
