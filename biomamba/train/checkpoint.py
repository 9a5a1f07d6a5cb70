"""One stateful checkpoint per tag: DeepSpeed's model/optimizer/scheduler shards + our run state.

Layout (``<run_dir>/checkpoints``; names and the trust rule in :mod:`biomamba.rundir`)::

    latest                          newest COMPLETE tag; written atomically by rank 0 last
    step_00000100/
        mp_rank_XX_model_states.pt  DeepSpeed (model weights per TP rank, client state)
        *_optim_states.pt           DeepSpeed ZeRO shards
        biomamba_rank00000.pt       per-rank: RNG states + data-loader state
        biomamba_meta.json          step, tokens, config, tokenizer hash, versions, layout
        COMPLETE                    written after every rank finished (barrier)

Every rank fsyncs the files of the tag (DeepSpeed's shards included) and their folders
before the barrier after which rank 0 writes ``COMPLETE`` and moves ``latest`` (both atomic
and durable, :mod:`biomamba.io`): a crash or power loss mid-save leaves a tag without
``COMPLETE`` and an unchanged ``latest``, so resume never trusts it. Our own per-rank files
hold only tensors and plain data and are loaded with ``torch.load(weights_only=True)``;
DeepSpeed's shards too, with the three DeepSpeed record types they hold allowed
(:mod:`biomamba.safe_load`).
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import os
import random
import shutil
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from biomamba.config import ConfigError
from biomamba.io import atomic_write_bytes, atomic_write_json, fsync_tree
from biomamba.rundir import COMPLETE, LATEST, META, TAG_RE, CheckpointError, RunDir, read_meta, resolve_tag, tag_for
from biomamba.safe_load import restricted_torch_load

from .universal import UNIVERSAL_SUFFIX

__all__ = ["COMPLETE", "LATEST", "CheckpointError", "CheckpointManager", "TrainState", "requested_resume_tag",
           "tag_for"]


@dataclasses.dataclass
class TrainState:
    step: int = 0  # optimizer steps done
    tokens_seen: int = 0
    skipped_steps: int = 0  # NaN/Inf steps skipped so far
    wandb_run_id: str | None = None
    best: dict | None = None  # model selection: {tag, step, metric, value} of the best evaluation so far
    evals_since_best: int = 0  # evaluations in a row that did not improve on ``best`` (early stopping)


def rng_state() -> dict:
    state = {
        "torch": torch.get_rng_state(),
        "python": [list(x) if isinstance(x, tuple) else x for x in random.getstate()],
        "numpy": {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in zip(("kind", "keys", "pos", "has_gauss", "cached"), np.random.get_state())},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n["kind"], np.array(n["keys"], dtype=np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def _barrier():
    if dist.is_initialized():
        dist.barrier()


def requested_resume_tag(run_dir: str | Path, resume: str) -> str | None:
    """What ``checkpoint.resume`` asks for: "auto" = the latest checkpoint if there is one, "never" = none."""
    if resume == "never":
        return None
    if resume == "auto":
        return RunDir(run_dir).latest_tag()
    return resume


def _fault_hold(run_dir: Path, step: int, rank: int) -> None:
    """Fault injection for tests and drills: ``BIOMAMBA_FAULT_HOLD_SAVE=<step>`` stops every rank inside
    the save of that step, after its shard files are on disk and before ``COMPLETE`` (each rank
    touches ``<run_dir>/.fault_hold_rank<N>`` and sleeps), so the job can be killed mid-checkpoint."""
    if os.environ.get("BIOMAMBA_FAULT_HOLD_SAVE") != str(step):
        return
    (run_dir / f".fault_hold_rank{rank:05d}").touch()
    while True:
        time.sleep(60)


def _broadcast_error(error: str | None, timeout_s: float) -> str | None:
    """Rank 0's ``error`` (or None) on every rank, over a gloo group that waits up to ``timeout_s``."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return error
    group = dist.new_group(backend="gloo", timeout=datetime.timedelta(seconds=timeout_s))
    box = [error]
    dist.broadcast_object_list(box, src=0, group=group)
    dist.destroy_process_group(group)
    return box[0]


class CheckpointManager:
    def __init__(self, run_dir: str | Path, keep_last: int, rank: int, universal_workers: int = 4,
                 universal_timeout_s: float = 7200.0):
        self.dir = RunDir(run_dir).checkpoints
        self.keep_last = keep_last
        self.rank = rank
        self.universal_workers = universal_workers
        self.universal_timeout_s = universal_timeout_s
        self.pinned: str | None = None  # a tag pruning never deletes (the best one of model selection)

    # ----- discovery -----
    def resolve(self, tag: str) -> str:
        return resolve_tag(self.dir, tag)

    # ----- save -----
    def save(self, engine, state: TrainState, loader_state: dict | None, meta: dict) -> str:
        tag = tag_for(state.step)
        tag_dir = self.dir / tag
        if self.rank == 0 and tag_dir.exists():
            shutil.rmtree(tag_dir)  # an interrupted earlier save of the same step
        _barrier()
        from .universal import universal_checkpoint_info

        client = {"biomamba": dataclasses.asdict(state), "universal_checkpoint_info": universal_checkpoint_info(engine.module)}
        engine.save_checkpoint(str(self.dir), tag=tag, client_state=client, save_latest=False)
        tag_dir.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        torch.save({"rng": rng_state(), "loader": loader_state, "train_state": dataclasses.asdict(state)}, buf)
        atomic_write_bytes(tag_dir / f"biomamba_rank{self.rank:05d}.pt", buf.getvalue())
        # DeepSpeed's torch.save leaves its shard files in the page cache: make them (and the folder
        # entries) durable before COMPLETE can vouch for them. Every rank syncs what it sees, so each
        # node flushes the files it wrote itself.
        fsync_tree(tag_dir)
        _fault_hold(self.dir.parent, state.step, self.rank)
        _barrier()  # every rank's shards and state are on disk, durably
        if self.rank == 0:
            atomic_write_json(tag_dir / META, {**meta, "train_state": dataclasses.asdict(state), "tag": tag})
            atomic_write_bytes(tag_dir / COMPLETE, b"")
            atomic_write_bytes(self.dir / LATEST, tag.encode())
            self._prune(keep=tag)
        _barrier()
        return tag

    def _prune(self, keep: str) -> None:
        tags = sorted(p.name for p in self.dir.glob("step_*") if p.is_dir() and TAG_RE.fullmatch(p.name))
        complete = [t for t in tags if (self.dir / t / COMPLETE).is_file()]
        for t in complete[: max(0, len(complete) - self.keep_last)]:
            if t not in (keep, self.pinned):
                shutil.rmtree(self.dir / t, ignore_errors=True)
                shutil.rmtree(self.dir / (t + UNIVERSAL_SUFFIX), ignore_errors=True)
        for t in tags:  # leftovers of interrupted saves older than the kept one
            if t not in complete and t < keep:
                shutil.rmtree(self.dir / t, ignore_errors=True)

    # ----- load -----
    def plan_resume(self, tag: str, current_layout: dict) -> dict:
        """Decide how to load ``tag`` in this layout, before the DeepSpeed engine exists.

        Returns {"tag", "ds_tag", "universal", "layout_changed", "meta"}. A different DP size
        (same TP) goes through DeepSpeed's universal checkpoint, converted once by rank 0.
        """
        tag = self.resolve(tag)
        meta = read_meta(self.dir / tag)
        saved = meta.get("layout", {})
        if saved.get("tp") != current_layout["tp"]:
            raise CheckpointError(
                f"{self.dir / tag} was written with tensor_parallel={saved.get('tp')}, this job uses "
                f"{current_layout['tp']}. Resume with the same tensor_parallel, or export it "
                "(python launcher/convert.py) and start a new run from it with init.from_pretrained."
            )
        changed = saved.get("dp") != current_layout["dp"]
        universal = changed and saved.get("zero_stage", 0) > 0
        plan = {"tag": tag, "ds_tag": tag, "universal": universal, "layout_changed": changed, "meta": meta}
        if universal:
            from .universal import convert_to_universal

            error = None
            if self.rank == 0:
                try:
                    convert_to_universal(self.dir / tag, self.universal_workers, self.universal_timeout_s)
                except Exception as exc:  # every rank must learn of it, not wait for rank 0 forever
                    error = f"{type(exc).__name__}: {exc}"
            # The other ranks wait on a group with the conversion's own timeout (+5 min), not the
            # training collectives' default (30 min), which a large model's conversion can exceed.
            error = _broadcast_error(error, self.universal_timeout_s + 300)
            if error:
                if "checkpoint.universal_timeout_s" in error:
                    raise ConfigError(error.split(": ", 1)[1])
                raise CheckpointError(error)
            plan["ds_tag"] = tag + UNIVERSAL_SUFFIX
        return plan

    def load(self, engine, plan: dict) -> tuple[TrainState, dict | list | None, dict]:
        """Restore the engine as planned; returns (train state, loader state, meta).

        After a DP-size change the loader state is the list of every saved rank's state (the
        logical streams a rank reads depend on the DP size; the loader takes its own from all
        of them and continues at the saved global position) and RNG states are not restored.
        """
        tag_dir = self.dir / plan["tag"]
        with restricted_torch_load():  # DeepSpeed's shards: weights_only=True (see biomamba.safe_load)
            load_path, _client = engine.load_checkpoint(
                str(self.dir), tag=plan["ds_tag"], load_optimizer_states=True, load_lr_scheduler_states=True,
                load_module_strict=True,
            )
        if load_path is None:
            raise CheckpointError(f"DeepSpeed could not load {self.dir / plan['ds_tag']} (missing or corrupt shard files?)")
        mine = tag_dir / ("biomamba_rank00000.pt" if plan["layout_changed"] else f"biomamba_rank{self.rank:05d}.pt")
        if not mine.is_file():
            raise CheckpointError(f"{mine} is missing: the save of {tag_dir} is incomplete; use an earlier tag")
        own = torch.load(mine, map_location="cpu", weights_only=True)
        state = TrainState(**own["train_state"])
        loader = own["loader"]
        if plan["layout_changed"]:
            files = sorted(tag_dir.glob("biomamba_rank*.pt"))
            saved_world = plan["meta"].get("layout", {}).get("world_size")
            if saved_world is not None and len(files) != saved_world:
                raise CheckpointError(f"{tag_dir} holds {len(files)} rank states, its job had {saved_world} ranks; "
                                      "the save is incomplete: use an earlier tag")
            loader = [torch.load(f, map_location="cpu", weights_only=True)["loader"] for f in files]
            loader = None if any(x is None for x in loader) else loader
        else:
            set_rng_state(own["rng"])
        return state, loader, plan["meta"]
