"""Training engine: DeepSpeed ZeRO + megatron-core TP, checkpoints, metrics (see trainer.py)."""
