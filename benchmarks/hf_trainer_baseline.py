"""Baselines for bench_train: a plain HF ``Trainer`` loop (run under torchrun) driving either model.

``--model hf``: ``transformers.MambaForCausalLM`` (its pure-PyTorch slow path on CPU) --
with our engine on the other side, a whole-system comparison (engine and scan differ).
``--model ours``: BioMamba's own ``MambaLM`` (fast scan) under the HF ``Trainer`` -- against
our engine this isolates the engine, since the model and scan are the same.

Same model config, weights, global batch, sequence length and synthetic data as our
engine's run; DDP over gloo on CPU, fp32, AdamW. Prints one JSON line with the
measured tokens/s (steps after the first ``--warmup``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=["hf", "ours"], default="hf")
    p.add_argument("--scale", default="tiny")
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--micro-batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--out", required=True)
    args = p.parse_args()

    import torch.nn.functional as F
    import transformers
    from torch import nn
    from torch.utils.data import Dataset

    from biomamba.config import load_config
    from biomamba.convert.hf import hf_config_from_ours, hf_state_dict_from_ours
    from biomamba.model import MambaConfig, MambaLM
    from biomamba.train.synthetic_data import SyntheticTokens

    cfg = load_config(MambaConfig, ROOT / "configs" / "model" / f"{args.scale}.yaml")
    ours = MambaLM(cfg).init_weights(1234)

    class OursForTrainer(nn.Module):
        """Our MambaLM with the loss the Trainer expects (labels already shifted, as our engine feeds them)."""

        def __init__(self, lm):
            super().__init__()
            self.lm = lm

        def forward(self, input_ids, labels):
            logits = self.lm(input_ids)
            return {"loss": F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1))}

    if args.model == "ours":
        model = OursForTrainer(ours)
    else:
        model = transformers.MambaForCausalLM(hf_config_from_ours(cfg))
        model.load_state_dict(hf_state_dict_from_ours(ours.state_dict()))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    src = SyntheticTokens(cfg.vocab_size, args.seq, 1, 0, 1, seed=1234)

    class Tokens(Dataset):
        def __len__(self):
            return 10**6

        def __getitem__(self, i):
            x = src.sample(i)
            if args.model == "ours":
                return {"input_ids": x[:-1], "labels": x[1:]}
            return {"input_ids": x[:-1], "labels": x[:-1]}  # HF shifts labels inside the model

    times: list[float] = []

    class Timer(transformers.TrainerCallback):
        def on_step_begin(self, *a, **k):
            self.t = time.perf_counter()

        def on_step_end(self, *a, **k):
            times.append(time.perf_counter() - self.t)

    targs = transformers.TrainingArguments(
        output_dir=args.out, per_device_train_batch_size=args.micro_batch, max_steps=args.steps,
        learning_rate=3e-4, weight_decay=0.1, logging_steps=1, save_strategy="no", report_to=[],
        use_cpu=True, dataloader_num_workers=0, seed=1234, ddp_backend="gloo" if world > 1 else None,
        disable_tqdm=True,
        # Every parameter gets a gradient: without this DDP walks the autograd graph after each
        # forward looking for unused ones, a cost our engine does not pay.
        ddp_find_unused_parameters=False,
    )
    trainer = transformers.Trainer(model=model, args=targs, train_dataset=Tokens(), callbacks=[Timer()])
    trainer.train()
    if int(os.environ.get("RANK", "0")) == 0:
        measured = times[args.warmup:]
        tokens = args.micro_batch * world * args.seq
        print(json.dumps({"tokens_per_s": tokens * len(measured) / sum(measured), "step_s": sum(measured) / len(measured)}))


if __name__ == "__main__":
    main()
