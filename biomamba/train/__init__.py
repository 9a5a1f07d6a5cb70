"""Training engine: DeepSpeed ZeRO + tensor parallelism (biomamba.parallel), checkpoints, metrics (see trainer.py)."""
