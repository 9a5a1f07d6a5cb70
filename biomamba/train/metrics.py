"""Run monitoring: console, ``metrics.jsonl`` and Weights & Biases (offline by default).

MFU = achieved model FLOP/s ÷ peak FLOP/s of the devices, with the model FLOPs from
:func:`biomamba.model.flops.flops_per_token` (3× forward per processed token).

Throughput counts the input tokens the model processes, not only the ones the loss
scores: fine-tuning masks the prompt out of the loss, but the forward and backward
passes still run over it.  Padding is not counted (it is no work asked of the model).
The scored tokens get their own rate, ``scored_tokens_per_s``.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from pathlib import Path

import torch

from biomamba.rundir import RunDir

# Dense bf16 peak TFLOP/s per device (NVIDIA datasheets: half the "with sparsity" figure).
# Keys are part names (``biomamba.plan --gpu`` takes them); one part may come in several
# form factors with different clocks and power, so the name says which: "H100" is the SXM5
# part (torch.cuda.get_device_name: "NVIDIA H100 80GB HBM3"), "H100 PCIe" the 350 W card.
PEAK_TFLOPS_BF16 = {
    "H200": 989.0,  # SXM
    "H200 NVL": 835.0,
    "GH200": 989.0,
    "H100": 989.0,  # SXM5
    "H100 PCIe": 756.0,
    "H100 NVL": 835.0,
    "A100": 312.0,  # SXM4 and PCIe alike
    "L40S": 362.0,
    "A10G": 70.0,
    "A10": 125.0,
    "V100": 125.0,  # fp16 (no bf16 on Volta)
}


def _words(name: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", name.lower()))


def peak_tflops_for(device_name: str) -> float | None:
    """Peak of a device name as torch reports it, or None if the table does not know it.

    A table key matches when all its words are words of the name ("A10" does not match
    "A100", "H100" does not match "GH200"); the key with the most words wins, so
    "NVIDIA H100 PCIe" reads as the PCIe part and "NVIDIA H100 80GB HBM3" as the SXM one.
    """
    words = _words(device_name)
    matches = [key for key in PEAK_TFLOPS_BF16 if _words(key) <= words]
    if not matches:
        return None
    return PEAK_TFLOPS_BF16[max(matches, key=lambda key: len(_words(key)))]


def device_peak_tflops(override: float | None) -> float | None:
    """``peak_tflops`` from the config, else this process's CUDA device looked up in the table."""
    if override:
        return override
    if not torch.cuda.is_available():
        return None
    return peak_tflops_for(torch.cuda.get_device_name())


def input_tokens(batch: dict) -> int:
    """Input tokens the model processes in a micro-batch, padding excluded.

    Right-padded batches (fine-tuning's ``collate_examples``) carry each row's real
    length in ``lengths``; packed pretraining windows have no padding.
    """
    lengths = batch.get("lengths")
    return int(lengths.sum()) if lengths is not None else batch["input_ids"].numel()


def throughput_record(processed_tokens: float, scored_tokens: float, seconds: float, world_size: int,
                      flops_per_token: float, peak_tflops: float | None) -> dict:
    """One step's rates for ``metrics.jsonl``: tokens/s and MFU from processed tokens, plus the scored rate."""
    tps = processed_tokens / seconds
    rec = {
        "tokens_per_s": tps,
        "tokens_per_s_per_device": tps / world_size,
        "scored_tokens_per_s": scored_tokens / seconds,
        "tflops_per_device": flops_per_token * tps / world_size / 1e12,
        "step_tokens": int(processed_tokens),
        "step_scored_tokens": int(scored_tokens),
    }
    if peak_tflops:
        rec["mfu"] = rec["tflops_per_device"] / peak_tflops
    return rec


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
        self.path = RunDir(run_dir).metrics
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
