"""Random selective-scan inputs in every B/C layout, shared by the scan tests."""

from __future__ import annotations

import torch


def make_scan_inputs(
    batch, dim, dstate, length, bc="var", dtype=torch.float64, z=True, D=True, delta_bias=True, seed=0, positive_delta=False
):
    """``positive_delta`` for runs without softplus (a negative step makes the state blow up)."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape, scale=1.0):
        return (torch.randn(*shape, generator=g, dtype=dtype) * scale).requires_grad_()

    if bc == "const":
        B, C = r(dim, dstate), r(dim, dstate)
    elif bc == "var":
        B, C = r(batch, dstate, length), r(batch, dstate, length)
    elif bc == "group":
        B, C = r(batch, 2, dstate, length), r(batch, 2, dstate, length)
    else:
        raise ValueError(bc)
    A = (-torch.rand(dim, dstate, generator=g, dtype=dtype) * 2 - 0.1).requires_grad_()
    return {
        "u": r(batch, dim, length),
        "delta": (r(batch, dim, length, scale=0.5).detach().abs().requires_grad_() if positive_delta else r(batch, dim, length, scale=0.5)),
        "A": A,
        "B": B,
        "C": C,
        "D": r(dim) if D else None,
        "z": r(batch, dim, length) if z else None,
        "delta_bias": (r(dim, scale=0.1).detach().abs().requires_grad_() if positive_delta else r(dim, scale=0.5))
        if delta_bias
        else None,
    }


def outputs_and_grads(fn, inputs, seed=1, **kw):
    """Run ``fn`` and backprop a fixed random cotangent; return [out, *grads of tensor inputs]."""
    for v in inputs.values():
        if v is not None:
            v.grad = None
    out = fn(**inputs, **kw)
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed), dtype=out.dtype)
    (out * g).sum().backward()
    names = [k for k, v in inputs.items() if v is not None]
    return [out.detach()] + [inputs[k].grad.detach().clone() for k in names], ["out"] + names
