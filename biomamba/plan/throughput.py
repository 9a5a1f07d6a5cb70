"""Step time and tokens/day from the model's FLOPs per token and an MFU (or a measured rate).

``flops_per_token`` is :func:`biomamba.model.flops.flops_per_token` (3 × forward, no
recompute), the number the training loop's MFU uses, so an MFU read from
``metrics.jsonl`` plugs straight in:

    tokens/s  = gpus · peak_TFLOPs · 1e12 · MFU / flops_per_token
    step time = global batch tokens / tokens/s,   tokens/day = 86,400 · tokens/s

A measured ``tokens_per_s`` (the whole job's, as in metrics.jsonl) replaces the first
line and gives the MFU it implies.
"""

from __future__ import annotations

from biomamba.model.config import MambaConfig
from biomamba.model.flops import flops_per_token
from biomamba.train.metrics import PEAK_TFLOPS_BF16

SECONDS_PER_DAY = 86_400


def peak_tflops(gpu: str) -> float:
    """Dense bf16 peak of a part name from biomamba.train.metrics ("h100", "h100-pcie"; any case)."""
    for name, value in PEAK_TFLOPS_BF16.items():
        if name.lower().split() == gpu.lower().replace("-", " ").replace("_", " ").split():
            return value
    known = ", ".join(name.lower().replace(" ", "-") for name in PEAK_TFLOPS_BF16)
    raise ValueError(f"unknown GPU {gpu!r}; known: {known} (or pass --peak-tflops)")


def throughput(cfg: MambaConfig, *, gpus: int, global_batch_tokens: int, tflops: float,
               mfu: float | None = None, measured_tokens_per_s: float | None = None) -> dict:
    """Keys: ``flops_per_token``, ``tokens_per_s``, ``mfu``, ``step_time_s``, ``tokens_per_day``."""
    if (mfu is None) == (measured_tokens_per_s is None):
        raise ValueError("give exactly one of mfu and measured_tokens_per_s")
    fpt = flops_per_token(cfg)
    cluster_flops = gpus * tflops * 1e12
    if mfu is not None:
        if not 0 < mfu <= 1:
            raise ValueError(f"MFU must be in (0, 1], got {mfu}")
        tps = cluster_flops * mfu / fpt
    else:
        if measured_tokens_per_s <= 0:
            raise ValueError("measured tokens/s must be > 0")
        tps = measured_tokens_per_s
        mfu = tps * fpt / cluster_flops
    return {"flops_per_token": fpt, "tokens_per_s": tps, "mfu": mfu,
            "step_time_s": global_batch_tokens / tps if global_batch_tokens else 0.0,
            "tokens_per_day": tps * SECONDS_PER_DAY}
