"""One optimizer step over the micro-batches of a global batch: :func:`train_step`."""

from __future__ import annotations

import dataclasses
import time

import torch

from .distributed import all_reduce_sum, collective_cpu
from .engine import Engine
from .metrics import input_tokens


@dataclasses.dataclass
class StepResult:
    finite: bool  # False: some micro-batch's loss was NaN/Inf on some rank; the update was skipped
    loss: float  # mean NLL per scored token of the global batch (nan when skipped)
    tokens: float  # scored tokens of the global batch (the loss normalizer)
    inputs: float  # input tokens processed, masked prompts included (tokens/s and MFU count these)
    grad_norm: float  # the update's global gradient norm (nan unless asked for, or when skipped)
    time_compute_s: float  # the whole step (CPU clock; on GPU this includes queued kernels)
    time_fwd_bwd_s: float
    time_optimizer_s: float


def train_step(engine: Engine, micro_batches: list[dict], *, grad_norm: bool = True) -> StepResult:
    """Forward and backward of every micro-batch, then the update (skipped on every rank when any
    rank's loss is not finite). ``grad_norm=False`` saves computing the norm on steps not logged."""
    dims, ds = engine.dims, engine.ds
    t_start = time.perf_counter()
    # Normalize by the tokens of the whole global batch, so the gradient is the mean over all
    # scored tokens whatever the split into micro-batches and DP ranks (DeepSpeed divides by
    # ga and averages over DP; the factor ga*dp undoes that).
    # One collective for both counts: scored tokens (the loss normalizer) and input tokens processed
    # (prompts that fine-tuning masks included), which tokens/s and MFU count.
    local = [sum(int((mb["labels"] != -100).sum()) for mb in micro_batches),
             sum(input_tokens(mb) for mb in micro_batches)]
    counts = collective_cpu(torch.tensor(local, dtype=torch.float64), group=dims.dp_group)
    global_tokens, global_inputs = counts.tolist()
    scale = engine.ga * dims.dp / max(global_tokens, 1.0)

    nll_sum, finite, norm = 0.0, True, float("nan")
    t_fwd_bwd = t_optim = 0.0
    for mb in micro_batches:
        t0 = time.perf_counter()
        ids, labels = mb["input_ids"].to(dims.device), mb["labels"].to(dims.device)
        # The model returns the per-token loss (its head's own cross-entropy under TP), so that with
        # parallel.loss_chunk_tokens the (tokens, vocab) logits exist one chunk at a time (biomamba.ops.xent).
        # DeepSpeed enters torch.autocast itself when precision is bf16.
        nll, _ = ds(ids, labels=labels, loss_chunk_tokens=engine.cfg.parallel.loss_chunk_tokens)
        loss = nll.sum() * scale
        if all_reduce_sum(0.0 if torch.isfinite(loss) else 1.0) == 0.0:  # every rank decides the same
            nll_sum += float(nll.detach().sum())
        else:
            finite = False
            loss = engine.zero_loss()
        ds.backward(loss)
        t1 = time.perf_counter()
        norm = engine.step(skip=not finite, grad_norm=grad_norm and finite)  # the last one is the update
        t2 = time.perf_counter()
        t_fwd_bwd += t1 - t0
        t_optim += t2 - t1
    t_compute = time.perf_counter() - t_start
    loss_mean = all_reduce_sum(nll_sum, dims.dp_group) / max(global_tokens, 1.0) if finite else float("nan")
    return StepResult(finite, loss_mean, global_tokens, global_inputs, norm, t_compute, t_fwd_bwd, t_optim)
