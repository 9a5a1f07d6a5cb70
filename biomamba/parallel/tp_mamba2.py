"""Tensor parallelism of one Mamba-2 mixer by heads, as Megatron-LM's Mamba mixer does.

With ``tp`` ranks, rank ``r`` holds heads ``[r·H/tp, (r+1)·H/tp)`` and groups ``[r·G/tp, (r+1)·G/tp)``
(``G % tp == 0``, so a head's B/C group lives on the rank that holds the head):

==============  ====================================================================
in_proj         ColumnParallelLinear whose local rows are this rank's z, x, B, C and dt
                slices (each section of [z; x; B; C; dt] split separately, see tp_layout)
conv1d          depthwise over the local [x; B; C] channels
dt_bias, A_log  the local heads; ``D`` the local heads (or their channels with D_has_hdim)
norm            the gated RMSNorm's weight for the local channels; its groups (d_inner/G
                channels each) are whole on a rank, so the per-group statistics are local
out_proj        RowParallelLinear (all-reduce of the partial sums)
==============  ====================================================================

No other communication is needed: unlike Mamba-1's x_proj, nothing mixes channels across heads
before out_proj. The mixer reads every size from its parameters' shapes, so it runs unchanged.
"""

from __future__ import annotations

import torch.nn as nn

from . import tp_layout


def parallelize_mixer2(mx, cfg, tp: int, rank: int, group, mcfg, lin: dict, mark, no_init) -> None:
    """Replace ``mx``'s full layers and parameters with this rank's shards (in place)."""

    def sl(name, t):
        return tp_layout.shard(name, t, tp, rank, cfg).clone()

    d_model, has_bias = mx.in_proj.weight.shape[1], mx.in_proj.bias is not None
    in_proj = lin["column"](d_model, mx.in_proj.weight.shape[0], config=mcfg, init_method=no_init,
                            bias=has_bias, gather_output=False, skip_bias_add=False, tp_group=group)
    in_proj.weight.copy_(sl("in_proj.weight", mx.in_proj.weight))
    mark(in_proj.weight, 0)
    if has_bias:
        in_proj.bias.copy_(sl("in_proj.bias", mx.in_proj.bias))
        mark(in_proj.bias, 0)
    mx.in_proj = in_proj

    c = sl("conv1d.weight", mx.conv1d.weight).shape[0]
    conv = nn.Conv1d(c, c, mx.conv1d.kernel_size[0], groups=c, padding=mx.conv1d.padding[0],
                     bias=mx.conv1d.bias is not None)
    conv.weight.copy_(sl("conv1d.weight", mx.conv1d.weight))
    mark(conv.weight, 0)
    if conv.bias is not None:
        conv.bias.copy_(sl("conv1d.bias", mx.conv1d.bias))
        mark(conv.bias, 0)
    mx.conv1d = conv

    for name in ("dt_bias", "A_log", "D"):
        p = nn.Parameter(sl(f"mixer.{name}", getattr(mx, name)))
        mark(p, 0)
        setattr(mx, name, p)
    if hasattr(mx, "norm"):
        mx.norm.weight = nn.Parameter(sl("mixer.norm.weight", mx.norm.weight))
        mark(mx.norm.weight, 0)

    out_proj = lin["row"](mx.out_proj.weight.shape[1], d_model, config=mcfg, init_method=no_init, bias=has_bias,
                          input_is_parallel=True, skip_bias_add=False, tp_group=group)
    out_proj.weight.copy_(sl("out_proj.weight", mx.out_proj.weight))
    mark(out_proj.weight, 1)
    if has_bias:
        out_proj.bias.copy_(mx.out_proj.bias)
    mx.out_proj = out_proj
