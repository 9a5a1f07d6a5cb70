"""Megatron-style tensor parallelism for Mamba-1 (Mamba-2: :mod:`.tp_mamba2`), applied by :func:`parallelize`.

The model file holds no distributed code; this step swaps layers for megatron-core's
parallel ones and slices the channel-wise parameters. With ``tp`` ranks and
``s = d_inner / tp`` channels per rank, rank ``r`` holds channels ``[r*s, (r+1)*s)``:

==========  =====================================================================
in_proj     ColumnParallelLinear. Its output is ``[x; z]``, so the local weight is
            ``[W_x[rank slice]; W_z[rank slice]]`` — x and z halves split separately,
            so ``chunk(2)`` on a rank yields matching x and z channels. (Concatenating
            the full weight's rows naively would give rank 0 all of x and rank 1 all of z.)
conv1d      depthwise: sliced by channel
x_proj      RowParallelLinear (input = the local channels) WITH its all-reduce: dt, B, C
            depend on all channels. Its output then passes ``copy_to_tensor_model_parallel_region``
            (identity forward, all-reduce backward) because each rank consumes the full dt/B/C
            with only its own channels, so their gradients must be summed over ranks.
dt_proj     output side sliced (weight rows and bias)
A_log, D    sliced by channel
out_proj    RowParallelLinear (all-reduce of the partial sums)
embedding   VocabParallelEmbedding; the tied head multiplies by the local vocabulary
            rows and the loss is megatron's vocab-parallel cross-entropy
norms       replicated (their inputs are identical on every rank)
==========  =====================================================================

Sliced parameters carry megatron's ``tensor_model_parallel`` attribute, which DeepSpeed's
gradient-norm computation uses to count sharded parameters on every rank and replicated
ones once.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from biomamba.model import MambaLM
from biomamba.ops.xent import ignore_mask

from . import tp_layout
from .dims import ParallelDims
from .tp_mamba2 import parallelize_mixer2


def _megatron():
    from megatron.core import tensor_parallel as mtp
    from megatron.core.model_parallel_config import ModelParallelConfig

    return mtp, ModelParallelConfig


def _no_init(_tensor):  # weights are copied from the full model right after construction
    return None


_CLASSES: dict = {}


def _tensor_linears():
    """megatron-core's parallel linears, returning a tensor (they return ``(output, bias)``).

    Subclasses rather than wrappers keep the state-dict keys (``mixer.in_proj.weight``)
    identical to the unsharded model's.
    """
    if not _CLASSES:
        mtp, _ = _megatron()

        class ColumnParallel(mtp.ColumnParallelLinear):
            def forward(self, x):
                out, bias = super().forward(x)
                return out if bias is None else out + bias

        class RowParallel(mtp.RowParallelLinear):
            def forward(self, x):
                out, bias = super().forward(x)
                return out if bias is None else out + bias

        class RowParallelShared(RowParallel):
            """x_proj: all-reduce forward (row parallel), then all-reduce of the gradient backward."""

            def forward(self, x):
                return mtp.copy_to_tensor_model_parallel_region(super().forward(x), group=self.tp_group)

        _CLASSES.update(column=ColumnParallel, row=RowParallel, row_shared=RowParallelShared)
    return _CLASSES


class VocabParallelHead(nn.Module):
    """Logits for this rank's vocabulary slice: ``copy_to_tp_region(h) @ W_local^T``."""

    def __init__(self, weight: nn.Parameter, tp_group):
        super().__init__()
        self.weight = weight  # shared with the embedding when tied
        self.tp_group = tp_group

    def forward(self, hidden):
        from megatron.core.tensor_parallel import copy_to_tensor_model_parallel_region

        shared = copy_to_tensor_model_parallel_region(hidden, group=self.tp_group)
        return torch.nn.functional.linear(shared, self.weight)

    @staticmethod
    def token_nll(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The model's loss path (``MambaLM(ids, labels=...)``, :mod:`biomamba.ops.xent`) uses the head's own loss."""
        return vocab_parallel_token_nll(logits, labels)


def _mark_tp(param: nn.Parameter, dim: int) -> None:
    """Mark ``param`` as split along ``dim`` over TP ranks (megatron's attributes, read by DeepSpeed).

    megatron-core's layers set these only inside their own weight initialization, which we skip
    (``perform_initialization=False``: values are copied from the full model), so every sharded
    weight — megatron's included — is marked here. Without the mark, DeepSpeed's gradient norm
    counts the parameter on TP rank 0 only and clipping under TP uses a too-small norm.
    """
    if getattr(param, "tensor_model_parallel", False):
        return
    for attr in ("tensor_model_parallel", "partition_dim", "partition_stride"):
        if hasattr(param, attr):
            delattr(param, attr)
    mtp, _ = _megatron()
    mtp.set_tensor_model_parallel_attributes(param, True, dim, 1)


def mp_config(tp: int, dtype=torch.float32):
    _, ModelParallelConfig = _megatron()
    return ModelParallelConfig(
        tensor_model_parallel_size=tp,
        use_cpu_initialization=True,  # megatron's GPU init path needs its CUDA RNG tracker
        perform_initialization=False,  # values are copied from the full model
        params_dtype=dtype,
        gradient_accumulation_fusion=False,
        sequence_parallel=False,
    )


@torch.no_grad()
def parallelize(model: MambaLM, dims: ParallelDims) -> MambaLM:
    """Shard ``model`` (fully initialized, identical on every TP rank) over ``dims.tp_group`` in place,
    and move it to ``dims.device``.

    ``dims`` comes from :func:`~biomamba.parallel.init_parallel`; with ``dims.tp == 1`` the model
    is only moved.
    """
    tp, rank, device, group = dims.tp, dims.tp_rank, dims.device, dims.tp_group
    if tp == 1:
        return model.to(device)
    mtp, _ = _megatron()
    cfg = model.config
    problems = tp_layout.split_problems(cfg, tp) + (
        [f"padded vocab {cfg.padded_vocab_size} is not divisible by {tp}"] if cfg.padded_vocab_size % tp else [])
    if problems:
        raise ValueError(f"cannot split the model over TP={tp}: " + "; ".join(problems))
    mcfg = mp_config(tp, model.backbone.embedding.weight.dtype)
    lin = _tensor_linears()
    s = cfg.d_inner // tp

    def sl(name: str, t: torch.Tensor) -> torch.Tensor:
        return tp_layout.shard(name, t, tp, rank).clone()

    for layer in model.backbone.layers:
        mx = layer.mixer
        if cfg.is_mamba2:
            parallelize_mixer2(mx, cfg, tp, rank, group, mcfg, lin, _mark_tp, _no_init)
            continue
        d_model = mx.in_proj.weight.shape[1]
        has_bias = mx.in_proj.bias is not None

        in_proj = lin["column"](d_model, 2 * cfg.d_inner, config=mcfg, init_method=_no_init,
                                bias=has_bias, gather_output=False, skip_bias_add=False, tp_group=group)
        in_proj.weight.copy_(sl("in_proj.weight", mx.in_proj.weight))
        _mark_tp(in_proj.weight, 0)
        if has_bias:
            in_proj.bias.copy_(sl("in_proj.bias", mx.in_proj.bias))
            _mark_tp(in_proj.bias, 0)
        mx.in_proj = in_proj

        conv = nn.Conv1d(s, s, mx.conv1d.kernel_size[0], groups=s, padding=mx.conv1d.padding[0],
                         bias=mx.conv1d.bias is not None)
        conv.weight.copy_(sl("conv1d.weight", mx.conv1d.weight))
        _mark_tp(conv.weight, 0)
        if conv.bias is not None:
            conv.bias.copy_(sl("conv1d.bias", mx.conv1d.bias))
            _mark_tp(conv.bias, 0)
        mx.conv1d = conv

        x_proj = lin["row_shared"](cfg.d_inner, mx.x_proj.weight.shape[0], config=mcfg, init_method=_no_init,
                                   bias=False, input_is_parallel=True, skip_bias_add=False, tp_group=group)
        x_proj.weight.copy_(sl("x_proj.weight", mx.x_proj.weight))
        _mark_tp(x_proj.weight, 1)
        mx.x_proj = x_proj

        dt = nn.Linear(mx.dt_proj.in_features, s, bias=True)
        dt.weight.copy_(sl("dt_proj.weight", mx.dt_proj.weight))
        dt.bias.copy_(sl("dt_proj.bias", mx.dt_proj.bias))
        _mark_tp(dt.weight, 0)
        _mark_tp(dt.bias, 0)
        mx.dt_proj = dt

        mx.A_log = nn.Parameter(sl("mixer.A_log", mx.A_log))
        mx.D = nn.Parameter(sl("mixer.D", mx.D))
        _mark_tp(mx.A_log, 0)
        _mark_tp(mx.D, 0)

        out_proj = lin["row"](cfg.d_inner, d_model, config=mcfg, init_method=_no_init, bias=has_bias,
                              input_is_parallel=True, skip_bias_add=False, tp_group=group)
        out_proj.weight.copy_(sl("out_proj.weight", mx.out_proj.weight))
        _mark_tp(out_proj.weight, 1)
        if has_bias:
            out_proj.bias.copy_(mx.out_proj.bias)
        mx.out_proj = out_proj

    emb = mtp.VocabParallelEmbedding(cfg.padded_vocab_size, cfg.d_model, config=mcfg, init_method=_no_init,
                                     tp_group=group)
    emb.weight.copy_(sl("embedding.weight", model.backbone.embedding.weight))
    _mark_tp(emb.weight, 0)
    full_head = model.lm_head.weight
    model.backbone.embedding = emb
    if cfg.tie_embeddings:
        model.lm_head = VocabParallelHead(emb.weight, group)
    else:
        head = nn.Parameter(sl("lm_head.weight", full_head))
        _mark_tp(head, 0)
        model.lm_head = VocabParallelHead(head, group)
    return model.to(device)


def vocab_parallel_token_nll(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token fp32 NLL (0 where ignored) from this rank's vocabulary slice of the logits, the same on every
    TP rank, and the mask of scored tokens: :func:`biomamba.ops.xent.token_nll_full_vocab` under TP."""
    from megatron.core.tensor_parallel import vocab_parallel_cross_entropy

    safe, mask = ignore_mask(labels)
    return vocab_parallel_cross_entropy(logits.float(), safe) * mask, mask
