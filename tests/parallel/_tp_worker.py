"""Run under torchrun (2 processes): TP=2 sharding marks, gradients and the TP-aware grad norm vs the full model.

Optional argument: the model's scan_impl (default auto), e.g. ``triton`` under TRITON_INTERPRET=1.
"""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from biomamba.model import MambaConfig, MambaLM  # noqa: E402
from biomamba.parallel import destroy_parallel, init_parallel, parallelize, tp_layout  # noqa: E402
from biomamba.train.loss import token_nll  # noqa: E402


def main():
    dims = init_parallel(2, "gloo")
    assert (dims.tp, dims.dp, dims.tp_rank) == (2, 1, dims.rank)
    rank = dims.tp_rank
    if sys.argv[1:] == ["mamba2"]:  # by heads: 8 heads of 16 channels, 2 groups (one per rank)
        cfg = MambaConfig(d_model=64, n_layer=2, vocab_size=500, scan_chunk_size=8,
                          ssm_cfg={"layer": "Mamba2", "d_state": 8, "headdim": 16, "ngroups": 2})
    else:
        # argv: "mamba1" (default scan) or "triton" (the Triton scan, run with TRITON_INTERPRET=1)
        impl = "triton" if sys.argv[1:] == ["triton"] else "auto"
        # The interpreter runs the triton scan element by element: a narrower model keeps that run short.
        width, dstate = (32, 4) if impl == "triton" else (64, 8)
        cfg = MambaConfig(d_model=width, n_layer=2, vocab_size=500, ssm_cfg={"d_state": dstate}, scan_impl=impl)
    full = MambaLM(cfg).init_weights(0)
    tp = parallelize(MambaLM(cfg).init_weights(0), dims)
    # every parameter that tp_layout splits carries megatron's TP marks; replicated ones do not
    for name, p in tp.named_parameters():
        sharded = tp_layout.rule(name, cfg) != tp_layout.REPLICATED
        assert bool(getattr(p, "tensor_model_parallel", False)) == sharded, name
    x = torch.randint(0, 500, (2, 17), generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 500, (2, 17), generator=torch.Generator().manual_seed(2))
    nll, _ = token_nll(full(x), y)
    nll.mean().backward()
    nll_tp, _ = token_nll(tp(x), y, dims)
    nll_tp.mean().backward()
    torch.testing.assert_close(nll_tp, nll, rtol=1e-5, atol=1e-6)
    for name, p in tp.named_parameters():
        ref = tp_layout.shard(name, dict(full.named_parameters())[name].grad, 2, rank, cfg)
        torch.testing.assert_close(p.grad, ref, rtol=1e-4, atol=1e-7, msg=name)
    # the TP-aware gradient norm (DeepSpeed's counting rule) equals the full model's norm
    from biomamba.train.engine import tp_grad_norm

    full_norm = torch.nn.utils.clip_grad_norm_(full.parameters(), 1e9).item()
    tp_norm = tp_grad_norm(tp, dims)
    assert abs(tp_norm - full_norm) <= 1e-5 * full_norm, (tp_norm, full_norm)
    print(f"rank {rank} ok", flush=True)
    destroy_parallel()


if __name__ == "__main__":
    main()
