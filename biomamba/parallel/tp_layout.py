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

Mamba-2 (by heads, as Megatron-LM's Mamba mixer; needs the model config, ``cfg``):

=====================  =========================================================
``in_proj.*``          "zxbcdt": rows [z; x; B; C; dt] (d_inner, d_inner, g·n, g·n,
                       nheads), each section split by channel/group/head
``conv1d.*``           "xbc": channels [x; B; C], each section split
``dt_bias``, ``A_log``, ``D``, ``mixer.norm.weight``: dim 0 (heads / channels; the
                       gated norm's groups stay whole on one rank)
``out_proj.weight``    dim 1
=====================  =========================================================
"""

from __future__ import annotations

import torch

XZ, ROWS, COLS, REPLICATED = "xz", "dim0", "dim1", "replicated"
ZXBCDT, XBC = "zxbcdt", "xbc"  # Mamba-2: concatenated sections, each split over the ranks


def split_problems(cfg, tp: int) -> list[str]:
    """Why the mixer of ``cfg`` cannot be split over ``tp`` ranks (empty: it can). The one home of
    these rules: training config, planner, converter and :func:`parallelize` all ask here."""
    if cfg.is_mamba2:
        out = []
        if cfg.nheads % tp:
            out.append(f"nheads={cfg.nheads} (expand*d_model/headdim) is not divisible by {tp}")
        if cfg.ngroups % tp:
            out.append(f"model.ssm_cfg.ngroups={cfg.ngroups} is not divisible by {tp} (each rank needs whole groups; "
                       f"set ngroups to a multiple of {tp} that divides nheads={cfg.nheads}, or lower the TP degree)")
        return out
    return [f"d_inner={cfg.d_inner} (expand*d_model) is not divisible by {tp}"] if cfg.d_inner % tp else []


def sections(name: str, cfg) -> list[int]:
    """Row sizes of the concatenated sections of a Mamba-2 ``in_proj``/``conv1d`` tensor."""
    di, gn, nh = cfg.d_inner, cfg.ngroups * cfg.d_state, cfg.nheads
    return [di, di, gn, gn, nh] if rule(name, cfg) == ZXBCDT else [di, gn, gn]


def rule(name: str, cfg=None) -> str:
    mamba2 = cfg is not None and cfg.is_mamba2
    if name.endswith("in_proj.weight") or name.endswith("in_proj.bias"):
        return ZXBCDT if mamba2 else XZ
    if mamba2 and (name.endswith("conv1d.weight") or name.endswith("conv1d.bias")):
        return XBC
    for s in ("conv1d.weight", "conv1d.bias", "dt_proj.weight", "dt_proj.bias", ".A_log", ".D", ".dt_bias",
              "mixer.norm.weight",
              "embedding.weight", "embeddings.weight", "lm_head.weight"):
        if name.endswith(s):
            return ROWS
    if name.endswith("x_proj.weight") or name.endswith("out_proj.weight"):
        return COLS
    return REPLICATED


def shard(name: str, full: torch.Tensor, tp: int, rank: int, cfg=None) -> torch.Tensor:
    """This rank's slice of the full tensor ``name`` (``cfg`` needed for Mamba-2 models)."""
    r = rule(name, cfg)
    if r == REPLICATED or tp == 1:
        return full
    if r in (ZXBCDT, XBC):
        return torch.cat([s.chunk(tp, 0)[rank] for s in full.split(sections(name, cfg), 0)], 0)
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


def merge(name: str, shards: list[torch.Tensor], cfg=None) -> torch.Tensor:
    """Inverse of :func:`shard` given every rank's slice, in rank order."""
    r = rule(name, cfg)
    if r == REPLICATED or len(shards) == 1:
        first = shards[0]
        for i, s in enumerate(shards[1:], 1):
            if not torch.equal(s, first):
                diff = (s.float() - first.float()).abs().max().item()
                raise ValueError(f"{name}: replicated parameter differs between TP rank 0 and {i} (max |Δ| {diff:.3g})")
        return first
    if r in (ZXBCDT, XBC):
        local = [n // len(shards) for n in sections(name, cfg)]
        parts = [s.split(local, 0) for s in shards]
        return torch.cat([torch.cat([p[i] for p in parts], 0) for i in range(len(local))], 0)
    if r == XZ:
        xs = [s[: s.shape[0] // 2] for s in shards]
        zs = [s[s.shape[0] // 2 :] for s in shards]
        return torch.cat(xs + zs, 0)
    return torch.cat(shards, 0 if r == ROWS else 1)
