"""Triton norm / conv / decode-step kernels equal their PyTorch references, in values and every gradient.

fp32 within 1e-5 relative (of the largest magnitude); bf16 inputs within 2e-2 (a few bf16 ulps: the kernels
keep fp32 inside where the references round to bf16 between ops, and Triton 3.9's interpreter rounds
fp32 -> bf16 by truncation where compiled Triton and torch round to nearest even). Run under the
interpreter on CPU.
"""

from __future__ import annotations

import os

import pytest
import torch

from biomamba.ops import KERNEL_IMPLS, resolve_kernel_impl
from biomamba.ops.norm import add_rms_norm_ref
from biomamba.ops.step import causal_conv1d_ref, causal_conv1d_update_ref, selective_state_update_ref

from .triton_env import rel_err, require_triton

DEV = require_triton()
TOL = {torch.float32: 1e-5, torch.bfloat16: 2e-2}
F32, BF16 = torch.float32, torch.bfloat16


def _grads_of(fn, inputs: dict, cotangents: list, **kw):
    for v in inputs.values():
        if v is not None:
            v.grad = None
    outs = fn(*inputs.values(), **kw)
    outs = outs if isinstance(outs, tuple) else (outs,)
    sum((o.float() * g).sum() for o, g in zip(outs, cotangents) if g is not None).backward()
    return list(outs) + [v.grad for v in inputs.values() if v is not None and v.requires_grad]


def _check(got, want, tol):
    assert len(got) == len(want)
    for i, (a, b) in enumerate(zip(got, want)):
        assert a.shape == b.shape and a.dtype == b.dtype, (i, a.shape, b.shape, a.dtype, b.dtype)
        assert rel_err(a, b) < tol, f"output/grad #{i}: relative error {rel_err(a, b):.3g} >= {tol}"


NORM_CASES = [
    # shape, x dtype, residual dtype (None: first block), weight dtype, residual_in_fp32, grad of residual_out
    ((2, 5, 37), F32, F32, F32, True, True),
    ((3, 33), F32, None, F32, False, True),
    ((1, 1, 1), F32, F32, F32, False, True),
    ((2, 3, 130), F32, F32, F32, True, False),  # final norm: residual_out unused
    ((2, 7, 64), BF16, F32, BF16, True, True),  # bf16 training: fp32 residual stream
    ((2, 7, 64), BF16, F32, F32, True, True),  # bf16 autocast with fp32 weights
    ((3, 48), BF16, BF16, BF16, False, True),
    ((2, 9, 96), BF16, None, BF16, True, True),
]


@pytest.mark.parametrize("case", NORM_CASES)
def test_add_rms_norm_matches_reference(case):
    from biomamba.ops.norm_triton import add_rms_norm_triton

    shape, xd, rd, wd, fp32, dro = case
    g = torch.Generator().manual_seed(0)
    inputs = {"x": torch.randn(shape, generator=g).to(DEV, xd).requires_grad_(),
              "residual": torch.randn(shape, generator=g).to(DEV, rd).requires_grad_() if rd else None,
              "weight": (1 + 0.1 * torch.randn(shape[-1], generator=g)).to(DEV, wd).requires_grad_()}
    cot = [torch.randn(shape, generator=g).to(DEV), torch.randn(shape, generator=g).to(DEV) if dro else None]
    want = _grads_of(add_rms_norm_ref, inputs, cot, eps=1e-5, residual_in_fp32=fp32)
    got = _grads_of(add_rms_norm_triton, inputs, cot, eps=1e-5, residual_in_fp32=fp32)
    _check(got, want, TOL[xd])


CONV_CASES = [
    # batch, dim, L, width, bias, activation, channel-last input (a view of a wider tensor), dtype
    (2, 5, 37, 4, True, "silu", True, F32),
    (1, 40, 70, 3, False, None, False, F32),
    (2, 33, 1, 4, True, "silu", True, F32),
    (1, 8, 130, 2, True, "silu", False, F32),
    (3, 36, 65, 4, True, "silu", True, F32),
    (2, 34, 67, 4, True, "silu", True, BF16),
    (1, 150, 20, 4, True, "silu", True, F32),  # several channel blocks
]


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("blocks", [None, (64, 16, 4, 8)])  # the interpreter's tiles; CUDA-like ones
def test_causal_conv1d_matches_reference(case, blocks, monkeypatch):
    from biomamba.ops import conv_triton
    from biomamba.ops.conv_triton import causal_conv1d_triton

    if blocks is not None:
        monkeypatch.setattr(conv_triton, "_blocks", lambda x: blocks)
    b, d, l, w, bias, act, cl, dt = case
    g = torch.Generator().manual_seed(1)
    x = torch.randn(b, l, 2 * d, generator=g)[..., :d].transpose(1, 2) if cl else torch.randn(b, d, l, generator=g)
    inputs = {"x": x.to(DEV, dt).requires_grad_(),
              "weight": torch.randn(d, w, generator=g).to(DEV, dt).requires_grad_(),
              "bias": torch.randn(d, generator=g).to(DEV, dt).requires_grad_() if bias else None}
    cot = [torch.randn(b, d, l, generator=g).to(DEV)]
    want = _grads_of(causal_conv1d_ref, inputs, cot, activation=act)
    got = _grads_of(causal_conv1d_triton, inputs, cot, activation=act)
    _check(got, want, TOL[dt])


@pytest.mark.parametrize("b,d,w,bias,dt", [(2, 37, 4, True, F32), (3, 5, 3, False, F32), (2, 70, 4, True, BF16)])
def test_causal_conv1d_update_matches_reference(b, d, w, bias, dt):
    from biomamba.ops.conv_triton import causal_conv1d_update_triton

    g = torch.Generator().manual_seed(2)
    state = torch.randn(b, d, w, generator=g).to(DEV, dt)
    x, weight = torch.randn(b, d, generator=g).to(DEV, dt), torch.randn(d, w, generator=g).to(DEV, dt)
    bias_t = torch.randn(d, generator=g).to(DEV, dt) if bias else None
    s_ref, s_tri = state.clone(), state.clone()
    for _ in range(w + 1):  # several tokens: the shift, and a state that no longer holds the start
        y_ref = causal_conv1d_update_ref(s_ref, x, weight, bias_t)
        y_tri = causal_conv1d_update_triton(s_tri, x, weight, bias_t)
        assert torch.equal(s_tri, s_ref)
        _check([y_tri], [y_ref], TOL[dt])
        x = torch.randn(b, d, generator=g).to(DEV, dt)


@pytest.mark.parametrize("b,d,n,dt", [(2, 37, 16, F32), (3, 5, 7, F32), (1, 64, 33, F32), (2, 40, 16, BF16)])
@pytest.mark.parametrize("extras", [True, False])
def test_selective_state_update_matches_reference(b, d, n, dt, extras):
    from biomamba.ops.step_triton import selective_state_update_triton

    g = torch.Generator().manual_seed(3)
    r = lambda *s: torch.randn(*s, generator=g).to(DEV)  # noqa: E731
    state = r(b, d, n)
    A = -torch.rand(d, n, generator=g).to(DEV) * 2
    s_ref, s_tri = state.clone(), state.clone()
    for _ in range(3):
        x, delta, B, C = r(b, d).to(dt), r(b, d).to(dt), r(b, n).to(dt), r(b, n).to(dt)
        kw = dict(D=r(d), z=r(b, d).to(dt), dt_bias=r(d), dt_softplus=True) if extras else {}
        y_ref = selective_state_update_ref(s_ref, x, delta.abs() if not extras else delta, A, B, C, **kw)
        y_tri = selective_state_update_triton(s_tri, x, delta.abs() if not extras else delta, A, B, C, **kw)
        _check([y_tri, s_tri], [y_ref, s_ref], TOL[dt] if dt != F32 else 1e-5)


def test_kernel_impl_resolution(monkeypatch):
    if DEV.type != "cpu":
        pytest.skip("checks the CPU/interpreter rules")
    cpu = torch.zeros(1)
    assert KERNEL_IMPLS == ("auto", "torch", "triton")
    assert resolve_kernel_impl("auto", cpu) == "torch"  # CPU never picks the interpreter by itself
    assert resolve_kernel_impl("torch", cpu) == "torch"
    assert resolve_kernel_impl("triton", cpu) == "triton"  # interpreter on (tests/conftest.py)
    with pytest.raises(ValueError, match="model.kernel_impl"):
        resolve_kernel_impl("cuda", cpu)
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(RuntimeError, match="kernel_impl=triton cannot run here: .*TRITON_INTERPRET=1"):
        resolve_kernel_impl("triton", cpu)


def test_triton_imported_before_the_interpreter_is_a_clear_error():
    import subprocess
    import sys

    code = ("import os, torch, triton.language; os.environ['TRITON_INTERPRET'] = '1'\n"
            "from biomamba.ops import resolve_kernel_impl\n"
            "try:\n    resolve_kernel_impl('triton', torch.zeros(1))\nexcept RuntimeError as e:\n    print(e)")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300).stdout
    assert "triton was imported before TRITON_INTERPRET=1 was set" in out and "kernel_impl=torch" in out


@pytest.mark.slow
def test_kernels_compile_for_sm90_without_spills():
    """The interpreter accepts programs the GPU compiler rejects: compile each kernel to an sm_90 cubin."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    import triton

    if not (Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "ptxas").exists():
        pytest.skip("this triton wheel ships no ptxas")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    script = Path(__file__).with_name("_triton_compile_fused.py")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {r["kernel"] for r in rows} == {"norm_fwd", "norm_bwd", "conv_fwd", "conv_bwd", "conv_update", "ssm_step"}
    for r in rows:
        assert r["STACK"] == 0 and r["LOCAL"] == 0 and r["REG"] <= 255, r
