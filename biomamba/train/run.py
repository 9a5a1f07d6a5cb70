"""``launcher/train.py``: parse the config, set up the processes, build, train, exit with the loop's code."""

from __future__ import annotations

import argparse
import sys
from typing import Callable

from biomamba.config import ConfigError, add_config_arguments, config_from_args

from .config import TrainConfig


def parse_args(argv=None, description: str = "Pretrain a Mamba LM") -> argparse.Namespace:
    p = argparse.ArgumentParser(description=f"{description} (deepspeed/torchrun/srun launch this on every rank).")
    add_config_arguments(p)
    # The deepspeed launcher appends --local_rank=N; torchrun/srun pass ranks in the environment.
    p.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def launch(cfg: TrainConfig, body: Callable) -> int:
    """Set up the process groups, run ``body(dims)`` (a :class:`~biomamba.parallel.ParallelDims`), always tear
    down; exit code 2 on a config error.

    The world layout and the input paths are checked first, from the launcher's environment: a bad
    value ends in one ``config error:`` line naming the key, not in a traceback from process-group setup.
    """
    from biomamba.slurm import DistEnv

    from biomamba.parallel import destroy_parallel, init_parallel

    try:
        _check_device(cfg)
        cfg.check_world(DistEnv.from_environ().world_size)
        cfg.check_inputs()
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    dims = init_parallel(cfg.parallel.tensor_parallel, cfg.parallel.backend)
    try:
        return body(dims)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    finally:
        destroy_parallel()


def _check_device(cfg: TrainConfig) -> None:
    import torch

    p = cfg.parallel
    if p.precision == "bf16" and p.tensor_parallel > 1 and not torch.cuda.is_available():
        # the TP library's linear autograd functions re-enter autocast in backward for CUDA only
        # (custom_bwd(device_type="cuda")); on CPU the backward would mix bf16 and fp32 and crash.
        raise ConfigError(f"parallel.precision=bf16 with parallel.tensor_parallel={p.tensor_parallel} needs CUDA GPUs; "
                          "on CPU set parallel.precision=fp32 or parallel.tensor_parallel=1")


def main(argv=None) -> int:
    cfg = config_from_args(TrainConfig, parse_args(argv))
    return launch(cfg, lambda dims: pretrain(cfg, dims))


def pretrain(cfg: TrainConfig, dims, wrap_data: Callable | None = None) -> int:
    """Build the model and data, then train. ``wrap_data(train_data, model)`` -> the batches the loop
    reads (fault drills: :mod:`.faults`)."""
    from .build import build_data, build_model
    from .trainer import train

    tokenizer_hash = None
    if cfg.tokenizer:
        from biomamba.tokenizer import load_tokenizer

        tok = load_tokenizer(cfg.tokenizer)
        tokenizer_hash = tok.content_hash
        # With init.from_pretrained the vocabulary is set from the tokenizer when the model is built.
        if tok.vocab_size > cfg.model.vocab_size and not cfg.init.from_pretrained:
            raise ConfigError(f"model.vocab_size={cfg.model.vocab_size} < tokenizer vocabulary {tok.vocab_size}; "
                              f"set model.vocab_size={tok.vocab_size}")
    model = build_model(cfg, dims)
    train_data, val_factory = build_data(cfg, dims)
    if wrap_data is not None:
        train_data = wrap_data(train_data, model)
    return train(cfg, dims, model, train_data, val_factory, tokenizer_hash)
