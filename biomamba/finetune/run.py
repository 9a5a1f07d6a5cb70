"""``launcher/finetune.py``: parse the config, set up the processes, build, train with dev selection, exit code."""

from __future__ import annotations

import argparse
import sys

from biomamba.config import ConfigError, add_config_arguments, config_from_args

from .config import FinetuneConfig


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Fine-tune a Mamba LM on BioASQ (deepspeed/torchrun/srun launch this on "
                                            "every rank).")
    add_config_arguments(p)
    # The deepspeed launcher appends --local_rank=N; torchrun/srun pass ranks in the environment.
    p.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = config_from_args(FinetuneConfig, args)
    from megatron.core import parallel_state as ps

    from biomamba.train.build import build_model
    from biomamba.train.distributed import init_distributed, shutdown
    from biomamba.train.trainer import train

    from .build import build_finetune_data, resolve_tokenizer

    rt = init_distributed(cfg.parallel.tensor_parallel, cfg.parallel.backend)
    try:
        cfg.check_world(rt.world_size)
        tokenizer = resolve_tokenizer(cfg)
        model = build_model(cfg, rt)  # random init, or init.from_pretrained (the checkpoint when resuming)
        data = build_finetune_data(cfg, tokenizer, rt, ps.get_data_parallel_group())
        return train(cfg, rt, model, data.train, None, tokenizer.content_hash, dev_eval=data.dev_eval)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    finally:
        shutdown()
