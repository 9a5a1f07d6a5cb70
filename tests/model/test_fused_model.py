"""The tiny LM with the Triton norm / conv / decode kernels (model.kernel_impl=triton) equals the PyTorch path:
logits, every parameter gradient, the decode step and greedy generate() tokens (interpreter on CPU)."""

from __future__ import annotations

import pytest
import torch

from biomamba.model import MambaConfig, MambaLM
from tests.ops.triton_env import rel_err, require_triton

DEV = require_triton()
SMALL = dict(d_model=48, n_layer=2, vocab_size=301, ssm_cfg={"d_state": 8})


def _model(kernel_impl: str, **kw) -> MambaLM:
    cfg = MambaConfig(**{**SMALL, **kw, "kernel_impl": kernel_impl, "scan_impl": "fast"})
    return MambaLM(cfg).init_weights(0).to(DEV)


@pytest.mark.parametrize("residual_in_fp32", [True, False])
def test_triton_kernels_match_torch_logits_and_grads(residual_in_fp32):
    ids = torch.randint(0, 301, (2, 37), generator=torch.Generator().manual_seed(0)).to(DEV)
    res = {}
    for impl in ("torch", "triton"):
        m = _model(impl, residual_in_fp32=residual_in_fp32)
        logits = m(ids)
        torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1)).backward()
        res[impl] = (logits.detach(), {n: p.grad for n, p in m.named_parameters()})
    assert rel_err(res["triton"][0], res["torch"][0]) < 1e-5
    assert res["triton"][1].keys() == res["torch"][1].keys()
    for name, g in res["torch"][1].items():
        assert rel_err(res["triton"][1][name], g) < 1e-4, name


def test_triton_decode_step_and_generate_match_torch():
    ids = torch.randint(0, 301, (2, 5), generator=torch.Generator().manual_seed(1)).to(DEV)
    mt, mk = _model("torch"), _model("triton")
    ct, ck = mt.allocate_cache(2), mk.allocate_cache(2)
    assert rel_err(mk(ids, caches=ck), mt(ids, caches=ct)) < 1e-5
    nxt = ids[:, -1:]
    for _ in range(3):
        assert rel_err(mk.step(nxt, ck), mt.step(nxt, ct)) < 1e-5
        for a, b in zip(ck, ct):
            assert rel_err(a.ssm_state, b.ssm_state) < 1e-5 and rel_err(a.conv_state, b.conv_state) < 1e-5
    assert torch.equal(mk.generate(ids, max_new_tokens=6), mt.generate(ids, max_new_tokens=6))


def test_bf16_model_with_triton_kernels_close_to_torch():
    ids = torch.randint(0, 301, (2, 19), generator=torch.Generator().manual_seed(2)).to(DEV)
    out = {impl: _model(impl).to(torch.bfloat16)(ids).float() for impl in ("torch", "triton")}
    assert rel_err(out["triton"], out["torch"]) < 3e-2  # bf16 rounding between ops differs (fp32 inside the kernels)
