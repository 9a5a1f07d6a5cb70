"""How each Mamba parameter is split over tensor-parallel ranks — one table used both to shard
a model (:func:`biomamba.parallel.parallelize`) and to merge/split checkpoints (biomamba.convert).

Rules by parameter name (suffix):

=====================  =========================================================
``in_proj.weight/bias`` "xz": rows are [x (d_inner); z (d_inner)]; each half split
                        by channel and the rank's x and z slices stacked
``conv1d.*``, ``dt_proj.*``, ``A_log``, ``D``: split along dim 0 (channels)
``x_proj.weight``, ``out_proj.weight``: split along dim 1 (input channels)
``embedding.weight``, ``lm_head.weight``: split along dim 0 (vocabulary)
everything else (norms, ``out_proj.bias``): replicated
=====================  =========================================================
"""

from __future__ import annotations

import torch

XZ, ROWS, COLS, REPLICATED = "xz", "dim0", "dim1", "replicated"


def rule(name: str) -> str:
    if name.endswith("in_proj.weight") or name.endswith("in_proj.bias"):
        return XZ
    for s in ("conv1d.weight", "conv1d.bias", "dt_proj.weight", "dt_proj.bias", ".A_log", ".D",
              "embedding.weight", "embeddings.weight", "lm_head.weight"):
        if name.endswith(s):
            return ROWS
    if name.endswith("x_proj.weight") or name.endswith("out_proj.weight"):
        return COLS
    return REPLICATED


def shard(name: str, full: torch.Tensor, tp: int, rank: int) -> torch.Tensor:
    """This rank's slice of the full tensor ``name``."""
    r = rule(name)
    if r == REPLICATED or tp == 1:
        return full
    if r == XZ:
        if full.shape[0] % (2 * tp):
            raise ValueError(f"{name}: {full.shape[0]} rows ([x; z], d_inner each) cannot be split into TP={tp} "
                             f"equal x and z slices; d_inner must be divisible by parallel.tensor_parallel")
        half = full.shape[0] // 2
        x, z = full[:half], full[half:]
        return torch.cat([x.chunk(tp, 0)[rank], z.chunk(tp, 0)[rank]], 0)
    dim = 0 if r == ROWS else 1
    if full.shape[dim] % tp:
        raise ValueError(f"{name}: size {full.shape[dim]} along dim {dim} is not divisible by TP={tp}")
    return full.chunk(tp, dim)[rank]


def merge(name: str, shards: list[torch.Tensor]) -> torch.Tensor:
    """Inverse of :func:`shard` given every rank's slice, in rank order."""
    r = rule(name)
    if r == REPLICATED or len(shards) == 1:
        first = shards[0]
        for i, s in enumerate(shards[1:], 1):
            if not torch.equal(s, first):
                diff = (s.float() - first.float()).abs().max().item()
                raise ValueError(f"{name}: replicated parameter differs between TP rank 0 and {i} (max |Δ| {diff:.3g})")
        return first
    if r == XZ:
        xs = [s[: s.shape[0] // 2] for s in shards]
        zs = [s[s.shape[0] // 2 :] for s in shards]
        return torch.cat(xs + zs, 0)
    return torch.cat(shards, 0 if r == ROWS else 1)
