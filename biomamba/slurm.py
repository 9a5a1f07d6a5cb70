"""Where this process sits in a distributed job: rank, world, rendezvous address.

Launchers call ``DistEnv.from_environ()`` once and then ``export_torch_env(env)``
so that ``torch.distributed`` / DeepSpeed ``env://`` initialisation works the
same way under every launcher:

* ``srun`` (one task per GPU, what ``slurm/pretrain.sh`` does): ranks come from
  ``SLURM_PROCID`` / ``SLURM_NTASKS`` / ``SLURM_LOCALID`` / ``SLURM_NODEID``;
  the rendezvous host is the first node of the step (``MASTER_ADDR`` if the
  batch script exported it) and the port is derived from the job id.
* ``torchrun`` or the ``deepspeed`` launcher (also when they run inside an
  ``srun`` step): their ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` /
  ``MASTER_ADDR`` / ``MASTER_PORT`` win, because they spawned this process.
* nothing: a single process, rank 0 of 1 on localhost.

Only a job *step* (``SLURM_STEP_ID``) counts as "under srun": the batch shell
itself also carries ``SLURM_PROCID=0`` and the job's ``SLURM_NTASKS``, and a
process started there directly is not one of those tasks.

Scheduling itself is left to Slurm (``sbatch``/``srun``, see ``slurm/``);
nothing here submits jobs.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
import shutil
import subprocess
from collections.abc import Mapping

# Master ports are taken from [PORT_BASE, PORT_BASE + PORT_SPAN): unprivileged,
# below Linux's ephemeral range (32768-60999) so an outgoing connection does not
# hold our port, and clear of Slurm's own 6817-6819.
PORT_BASE = 20000
PORT_SPAN = 12000

# Variables that only a torch launcher sets: their presence means torchrun /
# deepspeed spawned us (possibly inside an srun step) and its ranks are the truth.
_TORCH_LAUNCHER_MARKERS = ("TORCHELASTIC_RUN_ID", "CROSS_RANK")


@dataclasses.dataclass(frozen=True)
class DistEnv:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    node_rank: int = 0
    num_nodes: int = 1
    master_addr: str = "127.0.0.1"
    master_port: int = 29500
    job_id: str | None = None
    array_job_id: str | None = None
    array_task_id: int | None = None
    array_task_count: int | None = None
    restart_count: int = 0  # times Slurm requeued this job (SLURM_RESTART_COUNT)
    source: str = "single"  # "slurm", "torch" or "single"

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> DistEnv:
        env = os.environ if environ is None else environ
        common = _job_fields(env)
        launched_by_torch = any(k in env for k in _TORCH_LAUNCHER_MARKERS)
        if "SLURM_STEP_ID" in env and "SLURM_PROCID" in env and not launched_by_torch:
            return _from_slurm_step(env, common)
        if "RANK" in env and "WORLD_SIZE" in env:
            return _from_torch(env, common)
        port = _int(env, "MASTER_PORT", None)
        if port is None:
            port = master_port_from_job_id(common["job_id"]) if common["job_id"] else 29500
        return cls(master_addr=env.get("MASTER_ADDR", "127.0.0.1"), master_port=port, **common)


def _int(env: Mapping[str, str], key: str, default: int | None) -> int | None:
    value = env.get(key)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {key}={value!r} is not an integer") from None


def _job_fields(env: Mapping[str, str]) -> dict:
    restarts = _int(env, "SLURM_RESTART_COUNT", None)
    if restarts is None:
        restarts = _int(env, "TORCHELASTIC_RESTART_COUNT", 0)
    return dict(
        job_id=env.get("SLURM_JOB_ID") or None,
        array_job_id=env.get("SLURM_ARRAY_JOB_ID") or None,
        array_task_id=_int(env, "SLURM_ARRAY_TASK_ID", None),
        array_task_count=_int(env, "SLURM_ARRAY_TASK_COUNT", None),
        restart_count=restarts,
    )


def _from_slurm_step(env: Mapping[str, str], common: dict) -> DistEnv:
    node_rank = _int(env, "SLURM_NODEID", 0)
    num_nodes = _int(env, "SLURM_STEP_NUM_NODES", None) or _int(env, "SLURM_NNODES", 1)
    per_node = env.get("SLURM_STEP_TASKS_PER_NODE") or env.get("SLURM_TASKS_PER_NODE")
    local_world = tasks_on_node(per_node, node_rank) if per_node else 1
    nodelist = env.get("SLURM_STEP_NODELIST") or env.get("SLURM_JOB_NODELIST") or ""
    master_addr = env.get("MASTER_ADDR") or (master_addr_from_nodelist(nodelist) if nodelist else "127.0.0.1")
    master_port = _int(env, "MASTER_PORT", None)
    if master_port is None:
        master_port = master_port_from_job_id(common["job_id"] or 0)
    return DistEnv(
        rank=_int(env, "SLURM_PROCID", 0),
        world_size=_int(env, "SLURM_STEP_NUM_TASKS", None) or _int(env, "SLURM_NTASKS", 1),
        local_rank=_int(env, "SLURM_LOCALID", 0),
        local_world_size=local_world,
        node_rank=node_rank,
        num_nodes=num_nodes,
        master_addr=master_addr,
        master_port=master_port,
        source="slurm",
        **common,
    )


def _from_torch(env: Mapping[str, str], common: dict) -> DistEnv:
    rank, world = _int(env, "RANK", 0), _int(env, "WORLD_SIZE", 1)
    local_world = _int(env, "LOCAL_WORLD_SIZE", None) or _int(env, "LOCAL_SIZE", None) or world
    node_rank = _int(env, "GROUP_RANK", None)
    if node_rank is None:
        node_rank = _int(env, "CROSS_RANK", rank // local_world)
    num_nodes = _int(env, "CROSS_SIZE", None) or -(-world // local_world)
    return DistEnv(
        rank=rank,
        world_size=world,
        local_rank=_int(env, "LOCAL_RANK", rank % local_world),
        local_world_size=local_world,
        node_rank=node_rank,
        num_nodes=num_nodes,
        master_addr=env.get("MASTER_ADDR", "127.0.0.1"),
        master_port=_int(env, "MASTER_PORT", 29500),
        source="torch",
        **common,
    )


def tasks_on_node(tasks_per_node: str, node_index: int) -> int:
    """Entry ``node_index`` of Slurm's compact ``SLURM_TASKS_PER_NODE``, e.g. ``"2(x3),1"``."""
    counts: list[int] = []
    for part in tasks_per_node.split(","):
        m = re.fullmatch(r"\s*(\d+)(?:\(x(\d+)\))?\s*", part)
        if not m:
            raise ValueError(f"cannot parse tasks-per-node {tasks_per_node!r}")
        counts += [int(m.group(1))] * int(m.group(2) or 1)
    if not 0 <= node_index < len(counts):
        raise ValueError(f"node index {node_index} outside tasks-per-node {tasks_per_node!r}")
    return counts[node_index]


def master_port_from_job_id(job_id: str | int) -> int:
    """A rendezvous port that is the same on every rank of a job and differs between jobs.

    Two jobs sharing a node get different ports unless their ids are a multiple
    of ``PORT_SPAN`` apart.  A requeued job keeps its id and so its port.
    """
    digits = re.sub(r"\D", "", str(job_id))  # "123_4" (array) -> "1234"
    return PORT_BASE + int(digits or 0) % PORT_SPAN


def master_addr_from_nodelist(nodelist: str) -> str:
    """First host of a Slurm nodelist: where rank 0 runs, hence the rendezvous host."""
    return expand_nodelist(nodelist)[0]


def expand_nodelist(nodelist: str) -> list[str]:
    """Host names of a Slurm nodelist such as ``node[01-03,07],gpu5``.

    ``scontrol show hostnames`` is the authority (it knows every syntax Slurm
    accepts), so it is used when present.  Off-cluster -- a login node without
    Slurm's config, a laptop, a unit test -- it is missing or fails, and the
    pure-Python parser (:func:`parse_nodelist`) handles the standard syntax.
    """
    if not nodelist.strip():
        raise ValueError("empty Slurm nodelist")
    scontrol = shutil.which("scontrol")
    if scontrol:
        try:
            out = subprocess.run(
                [scontrol, "show", "hostnames", nodelist],
                capture_output=True, text=True, timeout=30, check=True,
            ).stdout.split()
            if out:
                return out
        except (subprocess.SubprocessError, OSError):
            pass
    return parse_nodelist(nodelist)


def parse_nodelist(nodelist: str) -> list[str]:
    """Expand a compact nodelist without Slurm: ``a[1-2]b[3-4],c`` -> a1b3 a1b4 a2b3 a2b4 c.

    Zero padding is kept (``n[08-10]`` -> n08 n09 n10).
    """
    hosts: list[str] = []
    for item in _split_top_level(nodelist):
        pieces: list[list[str]] = []
        pos = 0
        for m in re.finditer(r"\[([^\]]*)\]", item):
            pieces.append([item[pos:m.start()]])
            pieces.append(_expand_ranges(m.group(1), nodelist))
            pos = m.end()
        tail = item[pos:]
        if "[" in tail or "]" in tail:
            raise ValueError(f"unbalanced brackets in nodelist {nodelist!r}")
        pieces.append([tail])
        hosts += ["".join(p) for p in itertools.product(*pieces)]
    return hosts


def _split_top_level(nodelist: str) -> list[str]:
    items, depth, current = [], 0, ""
    for ch in nodelist.strip():
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced brackets in nodelist {nodelist!r}")
        if ch == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += ch
    if depth != 0:
        raise ValueError(f"unbalanced brackets in nodelist {nodelist!r}")
    items.append(current)
    if any(not i.strip() for i in items):
        raise ValueError(f"empty host name in nodelist {nodelist!r}")
    return [i.strip() for i in items]


def _expand_ranges(spec: str, nodelist: str) -> list[str]:
    out: list[str] = []
    for part in spec.split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part.strip())
        if not m:
            raise ValueError(f"bad range {part!r} in nodelist {nodelist!r}")
        lo, hi = m.group(1), m.group(2) or m.group(1)
        if int(hi) < int(lo):
            raise ValueError(f"descending range {part!r} in nodelist {nodelist!r}")
        width = len(lo)
        out += [str(i).zfill(width) for i in range(int(lo), int(hi) + 1)]
    return out


def export_torch_env(env: DistEnv, environ: dict | None = None) -> dict[str, str]:
    """Set the variables ``torch.distributed`` (``env://``) and DeepSpeed read; returns them."""
    values = {
        "RANK": str(env.rank),
        "WORLD_SIZE": str(env.world_size),
        "LOCAL_RANK": str(env.local_rank),
        "LOCAL_WORLD_SIZE": str(env.local_world_size),
        "GROUP_RANK": str(env.node_rank),
        "MASTER_ADDR": env.master_addr,
        "MASTER_PORT": str(env.master_port),
    }
    target = os.environ if environ is None else environ
    target.update(values)
    return values


def default_backend() -> str:
    """``$BIOMAMBA_DIST_BACKEND`` if set, else ``nccl`` with CUDA and ``gloo`` without."""
    chosen = os.environ.get("BIOMAMBA_DIST_BACKEND")
    if chosen:
        return chosen
    import torch

    return "nccl" if torch.cuda.is_available() else "gloo"
