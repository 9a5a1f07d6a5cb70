"""The fast PyTorch scan equals the sequential reference, in values and every gradient."""

from __future__ import annotations

import pytest
import torch

from biomamba.ops import resolve_impl, selective_scan, selective_scan_fast, selective_scan_reference

from .scan_inputs import make_scan_inputs, outputs_and_grads

CASES = [
    # batch, dim, dstate, length, bc, z, softplus, chunk
    (1, 8, 4, 1, "var", True, True, 4),
    (2, 6, 3, 37, "var", True, True, 8),  # odd length, chunk does not divide it
    (3, 5, 16, 64, "var", False, False, 64),  # one chunk
    (2, 4, 5, 23, "const", True, False, 7),
    (2, 8, 4, 19, "group", False, True, 5),
    (2, 8, 4, 33, "group", True, True, 128),
]


def _compare(dtype, tol, case, D=True, delta_bias=True):
    batch, dim, dstate, length, bc, z, softplus, chunk = case
    inp = make_scan_inputs(
        batch, dim, dstate, length, bc, dtype, z=z, D=D, delta_bias=delta_bias, positive_delta=not softplus
    )
    ref, names = outputs_and_grads(selective_scan_reference, inp, delta_softplus=softplus)
    fast, _ = outputs_and_grads(selective_scan_fast, inp, delta_softplus=softplus, chunk_size=chunk)
    for name, a, b in zip(names, fast, ref):
        assert a.shape == b.shape, name
        err = ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()
        assert err < tol, f"{name}: relative error {err:.3g} >= {tol}"


@pytest.mark.parametrize("case", CASES)
def test_fast_matches_reference_float64(case):
    _compare(torch.float64, 1e-10, case)


@pytest.mark.parametrize("case", CASES)
def test_fast_matches_reference_float32(case):
    _compare(torch.float32, 1e-5, case)


def test_optional_D_and_delta_bias():
    _compare(torch.float64, 1e-10, (2, 6, 3, 17, "var", True, True, 4), D=False, delta_bias=False)


def test_last_state_and_bf16_inputs():
    inp = make_scan_inputs(2, 6, 4, 21, "var", torch.float32)
    out_r, st_r = selective_scan_reference(**inp, delta_softplus=True, return_last_state=True)
    out_f, st_f = selective_scan_fast(**inp, delta_softplus=True, return_last_state=True, chunk_size=8)
    torch.testing.assert_close(st_f, st_r, rtol=1e-5, atol=1e-5)
    # bf16 inputs: output comes back in bf16, computed in fp32 inside.
    bf = {k: (v.detach().bfloat16() if v is not None and k not in ("A", "D", "delta_bias") else v) for k, v in inp.items()}
    out = selective_scan_fast(**bf, delta_softplus=True)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), out_r.detach(), rtol=0.05, atol=0.05)


def test_gradcheck_small():
    inp = make_scan_inputs(1, 3, 2, 6, "var", torch.float64)
    args = [inp[k] for k in ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")]
    fn = lambda *a: selective_scan_fast(*a, delta_softplus=True, chunk_size=4)  # noqa: E731
    assert torch.autograd.gradcheck(fn, args)


def test_dispatch():
    u = torch.zeros(1, 2, 3)
    assert resolve_impl("auto", u) in ("fast", "cuda")
    assert resolve_impl("auto", u) == "fast"  # CPU tensors never take the CUDA kernel
    with pytest.raises(ValueError, match="not one of"):
        resolve_impl("no-such-impl", u)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="scan_impl"):
            selective_scan(u, u, torch.zeros(2, 1), torch.zeros(1, 1, 3), torch.zeros(1, 1, 3), impl="cuda")
