"""``launcher/finetune.py``: parse the config, set up the processes, build, train with dev selection, exit code."""

from __future__ import annotations

from biomamba.config import config_from_args
from biomamba.train.run import launch, parse_args

from .config import FinetuneConfig


def main(argv=None) -> int:
    cfg = config_from_args(FinetuneConfig, parse_args(argv, description="Fine-tune a Mamba LM on BioASQ"))
    return launch(cfg, lambda dims: _finetune(cfg, dims))


def _finetune(cfg: FinetuneConfig, dims) -> int:
    from biomamba.train.build import build_model
    from biomamba.train.trainer import train

    from .build import build_finetune_data, resolve_tokenizer

    tokenizer = resolve_tokenizer(cfg)
    model = build_model(cfg, dims)  # random init, or init.from_pretrained (the checkpoint when resuming)
    data = build_finetune_data(cfg, tokenizer, dims)
    return train(cfg, dims, model, data.train, None, tokenizer.content_hash, dev_eval=data.dev_eval)
