"""Run monitoring: console, ``metrics.jsonl`` and Weights & Biases (offline by default).

MFU = achieved model FLOP/s ÷ peak FLOP/s of the devices, with the model FLOPs from
:func:`biomamba.model.flops.flops_per_token` (3× forward per trained token).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import torch

# Dense bf16 peak TFLOP/s per device (vendor datasheets, without sparsity).
PEAK_TFLOPS_BF16 = {
    "H200": 989.0,
    "H100": 989.0,  # SXM; PCIe parts are lower — set peak_tflops in the config for those
    "A100": 312.0,
    "L40S": 362.0,
    "A10": 125.0,
    "V100": 125.0,
}


def device_peak_tflops(override: float | None) -> float | None:
    if override:
        return override
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    for key, value in PEAK_TFLOPS_BF16.items():
        if key in name:
            return value
    return None


def memory_stats(device: torch.device) -> dict:
    if device.type == "cuda":
        return {"mem_alloc_gb": torch.cuda.max_memory_allocated(device) / 2**30,
                "mem_reserved_gb": torch.cuda.max_memory_reserved(device) / 2**30}
    import resource

    return {"mem_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}


class MetricsLogger:
    """Rank 0 writes; other ranks' calls are no-ops.

    W&B drops any ``log(step=...)`` below the run's last step, and a run resumed after kill -9
    re-runs the steps since its checkpoint, which the killed process had already sent. So W&B gets
    its own monotonically increasing step (one per record ever written to ``metrics.jsonl``, counted
    again on every start) and our training ``step`` is a logged metric declared as every chart's
    x-axis: nothing is dropped, and re-run steps appear twice, as in ``metrics.jsonl``.
    """

    def __init__(self, run_dir: Path, enabled: bool, wandb_cfg, config_dict: dict, run_id: str | None):
        self.enabled = enabled
        self.path = Path(run_dir) / "metrics.jsonl"
        self.wandb = None
        self.run_id = run_id or uuid.uuid4().hex[:12]
        if not enabled:
            return
        self.wandb_step = _count_lines(self.path)
        self.file = open(self.path, "a", buffering=1)
        mode = os.environ.get("WANDB_MODE", wandb_cfg.mode)
        if wandb_cfg.enabled and mode != "disabled":
            try:
                import wandb

                self.wandb = wandb.init(
                    project=wandb_cfg.project, entity=wandb_cfg.entity, name=wandb_cfg.run_name,
                    id=self.run_id, resume="allow", dir=str(run_dir), mode=mode, config=config_dict,
                )
                self.wandb.define_metric("step")
                self.wandb.define_metric("*", step_metric="step")
            except Exception as exc:  # monitoring must not kill a training run; say so loudly
                print(f"[biomamba] W&B disabled: wandb.init failed: {exc}", flush=True)

    def log(self, record: dict, console: str | None = None) -> None:
        if not self.enabled:
            return
        record = {"time": time.time(), **record}
        self.file.write(json.dumps(record) + "\n")
        if console:
            print(console, flush=True)
        if self.wandb is not None:
            self.wandb.log({k: v for k, v in record.items() if isinstance(v, (int, float))}, step=self.wandb_step)
        self.wandb_step += 1

    def close(self) -> None:
        if not self.enabled:
            return
        self.file.close()
        if self.wandb is not None:
            self.wandb.finish()


def _count_lines(path: Path) -> int:
    if not path.is_file():
        return 0
    with open(path, "rb") as f:
        return sum(1 for _ in f)
