"""Activation terms of one Mamba-2 block (the counterpart of :func:`biomamba.plan.activations.layer_saved`).

Notation as there, plus ``h`` = heads and ``gn = ngroups·d_state`` per TP rank,
``c = e + 2·gn`` (conv channels), ``R = 2e + 2gn + h`` (in_proj rows), ``G`` = norm groups per rank.

* ``cpu`` / ``cuda-torch``: the mixer recomputes its core, conv1d → chunked SSD → gated norm, in
  the backward (:meth:`biomamba.model.mixer2.Mamba2Mixer.forward`), so a block keeps its norm's
  tensors, the projections' inputs and in_proj's output (the core's input). Checked against
  ``saved_tensors_hooks`` in tests/test_plan.py.
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
    c, R, G = e + 2 * gn, 2 * e + 2 * gn + h, cfg.ngroups // tp
    t = [term("norm input = residual stream (fp32)", T * d * FP32), term("norm rstd (fp32)", T * FP32)]
    if backend == "cpu":
        t.append(term("norm x*rstd (composite rms_norm, fp32)", T * d * FP32))
    t.append(term("in_proj input", T * d * (a if tp == 1 else FP32)))
    t.append(term("zxbcdt = in_proj output (conv input, z and dt are views)", T * R * a))
    if backend != "cuda":  # the recomputed core (conv1d → SSD → gated norm) keeps only its input, zxbcdt
        t.append(term("out_proj input (gated norm output)", T * e * a))
        return t
    t.append(term("A = -exp(A_log) and dt_bias use (fp32, per head)", 2 * h * FP32))
    t.append(term("xBC = SiLU(conv1d) (x, B, C views)", T * c * a))
    q = int(cfg.ssm("chunk_size"))
    t.append(term("dA_cumsum (b, h, chunks, chunk_size) fp32", b * h * math.ceil(L / q) * q * FP32))
    t.append(term("scan output y", T * e * a))
    t.append(term("gated norm rstd (fp32)", T * G * FP32))
    t.append(term("out_proj input (gated norm output)", T * e * a))
    return t
