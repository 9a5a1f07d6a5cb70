"""The engine the loop drives: DeepSpeed over the data-parallel group, the resume plan, checkpoint
saves, and two adapters DeepSpeed lacks (a gradient norm without ZeRO, skipping one update).

Everything that resumes — model, optimizer, LR schedule (DeepSpeed), data-loader position,
counters and RNG states (ours) — is one checkpoint tag (see :mod:`.checkpoint`).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from biomamba.parallel import DeepSpeedMPU, ParallelDims

from .checkpoint import CheckpointManager, TrainState, requested_resume_tag
from .config import TrainConfig
from .deepspeed_config import deepspeed_config, mark_gradient_reduction_dtypes
from .distributed import collective_cpu
from .optim import build_optimizer
from .schedule import build_scheduler
from .selection import write_best


def initialize_engine(cfg: TrainConfig, dims: ParallelDims, model, optimizer, scheduler, load_universal: bool = False):
    """``deepspeed.initialize`` over the data-parallel group with our config and gradient-reduction rule."""
    import deepspeed

    ds = deepspeed_config(cfg, dims.dp)
    if load_universal:
        ds["checkpoint"] = {"load_universal": True}
    if cfg.parallel.precision == "bf16":
        mark_gradient_reduction_dtypes(model)
    engine, _, _, _ = deepspeed.initialize(model=model, optimizer=optimizer, lr_scheduler=scheduler,
                                           mpu=DeepSpeedMPU(dims), config=ds)
    return engine


@contextlib.contextmanager
def skip_update(optimizer: torch.optim.Optimizer, scheduler):
    """Make the next ``engine.step()`` leave parameters, Adam moments and the LR schedule untouched.

    DeepSpeed has no public "skip this step" outside fp16 loss scaling; every ZeRO stage
    ends its step by calling our torch optimizer's ``step()`` on the fp32 (partitioned)
    parameters and copying them back, then calls the LR scheduler's ``step()``. Replacing
    both with no-ops skips the update cleanly while DeepSpeed's counters and gradient
    buffers stay consistent. The schedule does not advance: a skipped step trained nothing,
    so the next real update gets the lr the skipped one would have had (warmup and decay
    are counted in updates applied, and a run with skips ends short of the final lr by
    the number of skipped steps, which the log records as ``skipped_nonfinite``).
    """
    original = optimizer.step
    optimizer.step = lambda *a, **k: None
    scheduler.step = lambda *a, **k: None  # an instance attribute shadowing the class's method...
    try:
        yield
    finally:
        optimizer.step = original
        del scheduler.step  # ...removed again: the scheduler's state_dict() pickles its __dict__


def tp_grad_norm(model, dims: ParallelDims) -> float:
    """Global L2 norm of the (already data-parallel-reduced) gradients, counting each TP-sharded
    parameter on every TP rank and each replicated one once — DeepSpeed's own rule, which it only
    records under ZeRO."""
    sq = torch.zeros(1, dtype=torch.float64)
    for p in {id(p): p for p in model.parameters()}.values():
        if p.grad is not None and (getattr(p, "tensor_model_parallel", False) or dims.tp_rank == 0):
            sq += p.grad.detach().double().pow(2).sum().cpu()
    if dims.tp > 1:
        sq = collective_cpu(sq, group=dims.tp_group)
    return float(sq.sqrt())


def deepspeed_grad_norm(ds) -> float:
    g = ds.get_global_grad_norm()
    if g is None:
        return float("nan")
    return float(g.item() if torch.is_tensor(g) else g)


class Engine:
    """DeepSpeed's engine with the run's resumable state: what :func:`~.step.train_step` and the loop use."""

    def __init__(self, cfg: TrainConfig, dims: ParallelDims, ds, optimizer, scheduler, ckpt: CheckpointManager,
                 state: TrainState, data, meta: dict):
        self.cfg, self.dims, self.ds, self.optimizer, self.scheduler = cfg, dims, ds, optimizer, scheduler
        self.ckpt, self.state, self.data, self.meta = ckpt, state, data, meta
        self.ga = cfg.parallel.gradient_accumulation_steps
        self.zero_stage = cfg.parallel.zero_stage
        self.autocast_dtype = torch.bfloat16 if cfg.parallel.precision == "bf16" else None
        self.saved_step = -1  # the step of the newest checkpoint this engine saved or resumed from

    def resume(self, plan: dict, tag: str, tokenizer_hash: str | None) -> None:
        """Load checkpoint ``tag`` (planned by ``CheckpointManager.plan_resume``): engine, counters, data position."""
        cfg, dims = self.cfg, self.dims
        self.state, loader_state, meta = self.ckpt.load(self.ds, plan)
        self.saved_step = self.state.step
        # Some DeepSpeed restore paths (universal, elastic) bring back the Adam moments but not the param
        # groups' current lr; the restored scheduler state has it, so re-apply it before the next step.
        for group, lr in zip(self.optimizer.param_groups, self.scheduler.get_last_lr()):
            group["lr"] = lr
        if plan["layout_changed"] and dims.is_main:
            print(f"[biomamba] data-parallel size changed since {tag} ({meta['layout']['dp']} -> {dims.dp}): "
                  "model and optimizer resumed exactly; the data continues at the saved global sample position",
                  flush=True)
        if loader_state is not None:
            self.data.load_state_dict(loader_state, allow_mismatch=cfg.checkpoint.allow_loader_mismatch)
        if tokenizer_hash and meta.get("tokenizer_hash") not in (None, tokenizer_hash):
            raise RuntimeError(f"tokenizer changed since checkpoint {tag}: "
                               f"{meta.get('tokenizer_hash')} != {tokenizer_hash}")
        if dims.is_main:
            print(f"[biomamba] resumed from {tag}: step {self.state.step}, {self.state.tokens_seen:,} tokens",
                  flush=True)

    @property
    def module(self) -> torch.nn.Module:
        return self.ds.module

    @property
    def lr(self) -> float:
        return self.scheduler.get_last_lr()[0]

    def zero_loss(self) -> torch.Tensor:
        """A zero loss that still reaches every trainable parameter (DeepSpeed's micro-step bookkeeping
        stays intact with a zero gradient instead of NaNs)."""
        return sum(p.sum() for p in self.module.parameters() if p.requires_grad) * 0.0

    def step(self, *, skip: bool = False, grad_norm: bool = False) -> float:
        """DeepSpeed's step: at a gradient-accumulation boundary the optimizer update (none if ``skip``),
        else only its counters. Returns the update's global gradient norm when asked (nan otherwise)."""
        boundary = self.ds.is_gradient_accumulation_boundary()
        norm = float("nan")
        if grad_norm and boundary and self.zero_stage == 0:
            norm = tp_grad_norm(self.module, self.dims)  # DeepSpeed records no norm without ZeRO
        with skip_update(self.optimizer, self.scheduler) if skip and boundary else contextlib.nullcontext():
            self.ds.step()
        if grad_norm and boundary and self.zero_stage > 0:
            norm = deepspeed_grad_norm(self.ds)
        return norm

    def save(self) -> str:
        """One complete checkpoint of everything that resumes; model selection's best is never pruned."""
        state = self.state
        self.ckpt.pinned = state.best["tag"] if state.best else None
        tag = self.ckpt.save(self.ds, state, self.data.state_dict(), self.meta)
        self.saved_step = state.step
        if self.dims.is_main and state.best:
            write_best(Path(self.cfg.run_dir), state.best)  # only ever names a complete checkpoint
        return tag


def setup_engine(cfg: TrainConfig, dims: ParallelDims, model, data, tokenizer_hash: str | None,
                 versions: dict) -> Engine:
    """Optimizer, schedule and DeepSpeed engine; resumed from the requested checkpoint if there is one
    (the plan comes first: a data-parallel size change loads a universal checkpoint)."""
    run_dir = Path(cfg.run_dir)
    optimizer = build_optimizer(model, cfg.optim, dims.device.type)
    scheduler = build_scheduler(optimizer, cfg.max_steps, cfg.schedule, cfg.optim.min_lr_ratio)
    ckpt = CheckpointManager(run_dir, cfg.checkpoint.keep_last, dims.rank, cfg.checkpoint.universal_workers,
                             cfg.checkpoint.universal_timeout_s)
    resume_tag = requested_resume_tag(run_dir, cfg.checkpoint.resume)
    plan = ckpt.plan_resume(resume_tag, {"tp": dims.tp, "dp": dims.dp}) if resume_tag else None
    ds = initialize_engine(cfg, dims, model, optimizer, scheduler, load_universal=bool(plan and plan["universal"]))
    meta = {"config": cfg.to_dict(), "versions": versions, "tokenizer_hash": tokenizer_hash,
            "layout": {"world_size": dims.world_size, "tp": dims.tp, "dp": dims.dp,
                       "zero_stage": cfg.parallel.zero_stage}}
    engine = Engine(cfg, dims, ds, optimizer, scheduler, ckpt, TrainState(), data, meta)
    if plan:
        engine.resume(plan, resume_tag, tokenizer_hash)
    return engine
