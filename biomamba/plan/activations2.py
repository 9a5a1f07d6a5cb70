"""Activation terms of one Mamba-2 block (the counterpart of :func:`biomamba.plan.activations.layer_saved`).

Notation as there, plus ``h`` = heads and ``gn = ngroups·d_state`` per TP rank,
``c = e + 2·gn`` (conv channels), ``R = 2e + 2gn + h`` (in_proj rows), ``G`` = norm groups per rank.

* ``cpu`` / ``cuda-torch``: our chunked SSD (:mod:`biomamba.ops.ssd_chunked`) runs under
  recomputation (:func:`biomamba.ops.ssd_scan`), so it keeps only its inputs (xBC, whose
  views x/B/C are, and dt, a view of in_proj's output); the gated RMSNorm is PyTorch's
  composite. Checked against ``saved_tensors_hooks`` in tests/test_plan.py.
* ``cuda``: mamba_ssm's Triton ``mamba_chunk_scan_combined`` (keeps its output, the views
  x/dt/B/C and ``dA_cumsum`` (b, h, chunks, chunk_size) fp32), its Triton gated norm (keeps
  x, z, rstd) and causal_conv1d (fused SiLU; keeps its input). Read from mamba_ssm's code.
"""

from __future__ import annotations

import math

from biomamba.model.config import MambaConfig


def layer_saved_mamba2(cfg: MambaConfig, b: int, L: int, *, tp: int, a: int, backend: str, term, FP32: int) -> list:
    T, d = b * L, cfg.d_model
    e, h, gn = cfg.d_inner // tp, cfg.nheads // tp, cfg.ngroups * cfg.d_state // tp
    c, R, k, G = e + 2 * gn, 2 * e + 2 * gn + cfg.nheads // tp, cfg.d_conv, cfg.ngroups // tp
    t = [term("norm input = residual stream (fp32)", T * d * FP32), term("norm rstd (fp32)", T * FP32)]
    if backend == "cpu":
        t.append(term("norm x*rstd (composite rms_norm, fp32)", T * d * FP32))
    t.append(term("in_proj input", T * d * (a if tp == 1 else FP32)))
    t.append(term("zxbcdt = in_proj output (conv input, z and dt are views)", T * R * a))
    t.append(term("A = -exp(A_log) and dt_bias use (fp32, per head)", 2 * h * FP32))
    if backend == "cuda":
        t.append(term("xBC = SiLU(conv1d) (x, B, C views)", T * c * a))
        q = int(cfg.ssm("chunk_size"))
        t.append(term("dA_cumsum (b, h, chunks, chunk_size) fp32", b * h * math.ceil(L / q) * q * FP32))
        t.append(term("scan output y", T * e * a))
        t.append(term("gated norm rstd (fp32)", T * G * FP32))
        t.append(term("out_proj input (gated norm output)", T * e * a))
        return t
    t.append(term("conv1d output before SiLU (length L+k-1)", b * c * (L + k - 1) * a))
    t.append(term("xBC = SiLU(conv1d): the recomputed SSD's inputs x, B, C (views)", T * c * a))
    # Composite gated norm in fp32: y·silu(z) keeps y (fp32: the scan output; bf16: its fp32 cast) and
    # silu(z) (and z's fp32 cast under bf16); the group statistics keep the gated product, rstd and the
    # normalized groups; then out_proj's input.
    t.append(term("gated norm: y and silu(z) (fp32)", 2 * T * e * FP32))
    if a != FP32:
        t.append(term("gated norm: z cast to fp32", T * e * FP32))
    t.append(term("gated norm: y*silu(z) and normalized groups (fp32)", 2 * T * e * FP32))
    t.append(term("gated norm rstd (fp32)", T * G * FP32))
    t.append(term("out_proj input (gated norm output)", T * e * a))
    return t
