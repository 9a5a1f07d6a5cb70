"""Submit to and watch a real Slurm cluster from tests: sbatch, scontrol, scancel.

Polls ``scontrol show job`` every 0.2 s rather than ``sbatch --wait`` (which polls
at 2/10/42 s).  Without accounting there is no ``sacct``: a finished job stays
visible to ``scontrol`` for MinJobAge (300 s in the test cluster), long enough.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

TERMINAL_STATES = {
    "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
    "PREEMPTED", "BOOT_FAIL", "DEADLINE", "SPECIAL_EXIT",
}


class SlurmError(RuntimeError):
    pass


def _run(cmd: list[str], env: Mapping[str, str] | None = None, cwd: str | Path | None = None) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=60)
    if proc.returncode != 0:
        raise SlurmError(f"{shlex.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def cluster_answers() -> str | None:
    """None when `sinfo` answers with at least one responding node, else the reason it does not."""
    try:
        proc = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %T"], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        return "sinfo not found (Slurm is not installed)"
    except subprocess.TimeoutExpired:
        return "sinfo timed out"
    if proc.returncode != 0:
        return f"sinfo failed: {proc.stderr.strip()[:300]}"
    # A trailing "*" means the node does not respond; "~"/"#" are power-saving states.
    ok_states = {"idle", "mixed", "allocated", "completing"}
    usable = [ln for ln in proc.stdout.splitlines() if ln.split()[-1].rstrip("~#") in ok_states]
    if not usable:
        return f"no usable node in sinfo: {proc.stdout.strip()[:300]!r}"
    return None


def default_partition() -> str:
    for name in _run(["sinfo", "-h", "-o", "%P"]).split():
        if name.endswith("*"):
            return name[:-1]
    raise SlurmError("the cluster has no default partition")


def submit(
    script: str | Path | None = None,
    *args: str,
    sbatch_args: Iterable[str] = (),
    wrap: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
) -> str:
    """sbatch SCRIPT ARGS (or --wrap) and return the job id."""
    cmd = ["sbatch", "--parsable", *sbatch_args]
    if wrap is not None:
        cmd += ["--wrap", wrap]
    else:
        cmd += [str(script), *args]
    full_env = {**os.environ, **(env or {})}
    return _run(cmd, env=full_env, cwd=cwd).strip().split(";")[0]


def job_records(job_id: str) -> list[dict[str, str]]:
    """`scontrol show job -o` as dicts; one per array task for an array job."""
    out = _run(["scontrol", "show", "job", "-o", str(job_id)])
    records = []
    for line in out.splitlines():
        if not line.strip():
            continue
        rec: dict[str, str] = {}
        for field in line.split():
            key, sep, value = field.partition("=")
            if sep:
                rec[key] = value
        records.append(rec)
    return records


def job_state(job_id: str) -> str:
    """JobState of a job; for an array, the first task state that is not COMPLETED (or COMPLETED)."""
    states = [r["JobState"] for r in job_records(job_id)]
    return next((s for s in states if s != "COMPLETED"), "COMPLETED")


def job_output(job_id: str) -> str:
    """The batch output file of a job (first array task), or a note why there is none."""
    path = Path(job_records(job_id)[0].get("StdOut", ""))
    return path.read_text(errors="replace") if path.is_file() else f"(no output file at {path})"


def cancel(*job_ids: str) -> None:
    if job_ids:
        subprocess.run(["scancel", *map(str, job_ids)], capture_output=True, timeout=60)


def signal_batch(job_id: str, signal: str = "USR1") -> None:
    """Signal only the batch shell, as `sbatch --signal=B:SIG@T` does at T seconds before the limit."""
    _run(["scancel", "--batch", f"--signal={signal}", str(job_id)])


def wait_until(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def wait_for(job_id: str, timeout: float = 120) -> list[dict[str, str]]:
    """Poll until every task of the job is in a terminal state; return the final records.

    Raises at once when a dependency can never be satisfied (Slurm would leave the
    job pending forever), and on timeout (after cancelling the job), with the job
    record and the tail of its output in the message.
    """
    deadline = time.monotonic() + timeout
    while True:
        records = job_records(job_id)
        if all(r["JobState"] in TERMINAL_STATES for r in records):
            return records
        stuck = [r for r in records if r.get("Reason") == "DependencyNeverSatisfied"]
        if stuck or time.monotonic() > deadline:
            why = "has a dependency that can never be satisfied" if stuck else f"did not finish in {timeout:.0f}s"
            detail = "\n".join(" ".join(f"{k}={r.get(k)}" for k in ("JobId", "JobState", "Reason", "ExitCode",
                                                                     "Restarts")) for r in records)
            tail = job_output(job_id)[-3000:]
            cancel(job_id)
            raise SlurmError(f"job {job_id} {why}:\n{detail}\n--- output tail ---\n{tail}")
        time.sleep(0.2)


def assert_completed(records: list[dict[str, str]]) -> None:
    bad = [r for r in records if r["JobState"] != "COMPLETED" or r.get("ExitCode") != "0:0"]
    if bad:
        lines = [f"{r['JobId']}: {r['JobState']} exit {r.get('ExitCode')} reason {r.get('Reason')}" for r in bad]
        outputs = [job_output(r["JobId"])[-3000:] for r in bad[:1]]
        raise AssertionError("job did not complete:\n" + "\n".join(lines)
                             + "\n--- output tail ---\n" + "\n".join(outputs))
