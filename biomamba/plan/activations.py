"""Activation memory of one micro-batch, derived tensor by tensor from what autograd saves.

Notation: ``T = micro_batch · seq`` tokens, ``d = d_model``, ``e = d_inner / tp``
(channels on one TP rank), ``n = d_state``, ``r = dt_rank``, ``k = d_conv``,
``V = padded_vocab / tp``, ``a`` = activation bytes (2 under bf16 autocast, 4 in fp32).
Each :class:`Term` names the tensor and the code that keeps it (see docs/planner.md).

Three backends differ in which kernels run:

* ``cuda``: GPU with the ``[gpu]`` extras: mamba_ssm's ``selective_scan_fn``,
  ``causal_conv1d_fn`` and PyTorch's fused CUDA ``rms_norm``;
* ``cuda-torch``: GPU without them: :mod:`biomamba.ops.scan_fast`, ``F.conv1d``, fused ``rms_norm``;
  also the model for :mod:`biomamba.ops.scan_triton` (``auto``'s pick without mamba_ssm), which saves the
  same chunk-start states plus ΣΔ per chunk (1/d_state of them, not counted);
* ``cpu``: as ``cuda-torch`` but ``rms_norm`` is PyTorch's composite, which also saves ``x·rstd``.

The ``cpu`` terms are checked byte for byte against ``saved_tensors_hooks`` in
tests/test_plan.py; the CUDA-kernel terms come from reading mamba_ssm's
``SelectiveScanFn`` (it makes delta, B, C and z contiguous and saves the copies,
the pre-gate output and ``(b, e, ceil(L/2048), 2n)`` fp32 states) and
causal_conv1d (saves its input, fuses SiLU, returns a channel-last output).
With TP > 1, the TP library's parallel linears save their input as passed and the
fp32 weight (not autocast's bf16 copy).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from biomamba.model.config import MambaConfig

from .activations2 import layer_saved_mamba2

BACKENDS = ("cuda", "cuda-torch", "cpu")
CUDA_SCAN_CHUNK = 2048  # mamba_ssm's selective_scan_fwd stores one state per 2048 steps
FP32, BF16, INT64, BOOL = 4, 2, 8, 1


@dataclass(frozen=True)
class Term:
    name: str
    bytes: int


def _act_bytes(precision: str) -> int:
    if precision not in ("bf16", "fp32"):
        raise ValueError(f"precision must be bf16 or fp32, got {precision!r}")
    return BF16 if precision == "bf16" else FP32


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")


def layer_saved(cfg: MambaConfig, b: int, L: int, *, tp: int = 1, precision: str = "bf16",
                backend: str = "cuda") -> list[Term]:
    """Tensors one Mamba block keeps for its backward (parameters themselves excluded)."""
    _check_backend(backend)
    a, T = _act_bytes(precision), b * L
    if cfg.is_mamba2:
        saved = layer_saved_mamba2(cfg, b, L, tp=tp, a=a, backend=backend, term=Term, FP32=FP32)
        return saved + [term for term, s in weight_casts(cfg, tp=tp, precision=precision, backend=backend) if s]
    d, e, n, k, r = cfg.d_model, cfg.d_inner // tp, cfg.d_state, cfg.d_conv, cfg.dt_rank
    kernels = backend == "cuda"
    t = [
        Term("norm input = residual stream (fp32)", T * d * FP32),
        Term("norm rstd (fp32)", T * FP32),
    ]
    if backend == "cpu":
        t.append(Term("norm x*rstd (composite rms_norm, fp32)", T * d * FP32))
    # TP=1: nn.Linear saves the (autocast-cast) input; TP>1: the TP linears save the fp32 norm output as passed.
    t.append(Term("in_proj input", T * d * (a if tp == 1 else FP32)))
    t.append(Term("xz = in_proj output (conv keeps x, scan keeps z: views)", T * 2 * e * a))
    if not kernels:
        t.append(Term("conv1d output before SiLU (length L+k-1)", b * e * (L + k - 1) * a))
    t.append(Term("u = SiLU(conv1d) (scan input u / x_proj input)", T * e * a))
    if kernels:
        t.append(Term("u made contiguous by the CUDA scan", T * e * a))
    elif tp == 1 and b > 1:  # F.linear flattens (b, L, e) -> (b·L, e): a copy unless b == 1 (then a view of u)
        t.append(Term("x_proj input: transposed u copied by F.linear", T * e * a))
    t.append(Term("x_dbl = x_proj output [dt; B; C] (dt_proj, scan keep views)", T * (r + 2 * n) * a))
    t.append(Term("delta = dt_proj output" + (" (contiguous copy)" if kernels else ""), T * e * a))
    if kernels:
        t.append(Term("B, C contiguous copies", 2 * T * n * a))
        t.append(Term("z contiguous copy", T * e * a))
        t.append(Term("scan output before gating", T * e * a))
        chunks = math.ceil(L / CUDA_SCAN_CHUNK)
        t.append(Term(f"scan states (b, e, {chunks}, 2n) fp32", b * e * chunks * 2 * n * FP32))
    else:
        chunks = math.ceil(L / cfg.scan_chunk_size)
        t.append(Term(f"scan chunk-start states ({chunks}, b, e, n) fp32", chunks * b * e * n * FP32))
    t.append(Term("out_proj input (gated scan output)", T * e * a))
    t.append(Term("A = -exp(A_log): exp result + A (fp32)", 2 * e * n * FP32))
    return t + [term for term, saved in weight_casts(cfg, tp=tp, precision=precision, backend=backend) if saved]


def weight_casts(cfg: MambaConfig, *, tp: int = 1, precision: str = "bf16",
                 backend: str = "cuda") -> list[tuple[Term, bool]]:
    """bf16 copies autocast makes of one block's weights: (Term, saved_for_backward).

    Autocast caches every cast of a leaf parameter until the forward ends; those an op
    saves for its backward live on until that backward ran.
    """
    if precision != "bf16":
        return []
    bias = bool(cfg.ssm("bias"))
    tp_linears = tp > 1  # the TP library's linears save the fp32 weight, not the cast
    if cfg.is_mamba2:
        e, c = cfg.d_inner // tp, (cfg.d_inner + 2 * cfg.ngroups * cfg.d_state) // tp
        rows, d, k = 2 * e + 2 * (c - e) // 2 + cfg.nheads // tp, cfg.d_model, cfg.d_conv
        casts = [(Term("in_proj weight bf16", rows * d * BF16), not tp_linears),
                 (Term("out_proj weight bf16", d * e * BF16), not tp_linears)]
        if bias:
            casts += [(Term("in_proj bias bf16", rows * BF16), False), (Term("out_proj bias bf16", d * BF16), False)]
        if backend != "cuda":  # cast inside the recomputed part: not kept for the backward
            casts.append((Term("conv1d weight bf16", c * k * BF16), False))
            if cfg.ssm("conv_bias"):
                casts.append((Term("conv1d bias bf16", c * BF16), False))
        return casts
    d, e, n, k, r = cfg.d_model, cfg.d_inner // tp, cfg.d_state, cfg.d_conv, cfg.dt_rank
    casts = [
        (Term("in_proj weight bf16", 2 * e * d * BF16), not tp_linears),
        (Term("x_proj weight bf16", (r + 2 * n) * e * BF16), not tp_linears),
        (Term("dt_proj weight bf16", e * r * BF16), True),
        (Term("out_proj weight bf16", d * e * BF16), not tp_linears),
    ]
    if bias:
        casts += [(Term("in_proj bias bf16", 2 * e * BF16), False), (Term("out_proj bias bf16", d * BF16), False)]
    if backend != "cuda":  # F.conv1d is autocast; causal_conv1d takes the fp32 weight
        casts.append((Term("conv1d weight bf16", e * k * BF16), True))
        if cfg.ssm("conv_bias"):
            casts.append((Term("conv1d bias bf16", e * BF16), False))
    return casts


def head_saved(cfg: MambaConfig, b: int, L: int, *, tp: int = 1, precision: str = "bf16",
               backend: str = "cuda", with_loss: bool = True, loss_L: int | None = None) -> list[Term]:
    """Embedding, final norm, tied head and the loss (biomamba.train.loss.token_nll).

    ``loss_L``: positions whose log-probabilities exist at once (``parallel.loss_chunk_tokens``; default L).
    """
    a, T, d, V = _act_bytes(precision), b * L, cfg.d_model, cfg.padded_vocab_size // tp
    T_loss = b * (L if loss_L is None else min(loss_L, L))
    t = [Term("input ids (embedding)" + (" + vocab mask" if tp > 1 else ""), T * (INT64 + (BOOL if tp > 1 else 0))),
         Term("final norm input (fp32)", T * d * FP32), Term("final norm rstd (fp32)", T * FP32)]
    if backend == "cpu":
        t.append(Term("final norm x*rstd (composite rms_norm, fp32)", T * d * FP32))
    t.append(Term("lm_head input", T * d * a))
    if precision == "bf16":
        t.append(Term("lm_head (tied embedding) weight bf16", V * d * BF16))
    if with_loss:
        # TP=1: log_softmax keeps its fp32 output; TP>1: the vocab-parallel loss keeps softmax in the fp32 logits copy.
        t.append(Term("log-probabilities / softmax (fp32)", T_loss * V * FP32))
        extra = 4 if tp == 1 else 0  # nll_loss's total_weight scalar
        t.append(Term("targets and masks", T * (INT64 + BOOL + (0 if tp == 1 else BOOL)) + extra))
    return t


def logits_held_bytes(cfg: MambaConfig, b: int, L: int, *, tp: int = 1, precision: str = "bf16") -> int:
    """The logits the training loop holds through the backward (not saved by autograd).

    fp32 with TP>1: the vocab-parallel cross-entropy works in place on them, already counted as softmax.
    """
    if precision == "fp32" and tp > 1:
        return 0
    return b * L * (cfg.padded_vocab_size // tp) * _act_bytes(precision)


def loss_backward_bytes(cfg: MambaConfig, b: int, L: int, *, tp: int = 1, precision: str = "bf16") -> int:
    """Gradient buffers alive while the loss's backward runs.

    TP=1: nll_loss's dense fp32 gradient and log_softmax's fp32 input gradient (8 B/logit).
    TP>1: the vocab-parallel loss computes the gradient in place in the softmax; only the bf16 cast remains.
    """
    TV = b * L * (cfg.padded_vocab_size // tp)
    if tp == 1:
        return 2 * FP32 * TV
    return BF16 * TV if precision == "bf16" else 0


def checkpoint_input_bytes(cfg: MambaConfig, b: int, L: int, *, precision: str = "bf16") -> int:
    """Block inputs kept by per-block activation checkpointing.

    Block 0 gets the fp32 embedding output, which is also block 1's residual input (block 0
    passes it on unchanged); block i > 0 gets the mixer output (activation dtype), and
    block i > 1 a new fp32 residual stream.
    """
    T, d, n = b * L, cfg.d_model, cfg.n_layer
    return T * d * FP32 * max(1, n - 1) + (n - 1) * T * d * _act_bytes(precision)
