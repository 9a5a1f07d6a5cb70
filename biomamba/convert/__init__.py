"""Checkpoint conversion: training checkpoints ⇄ Hugging Face ⇄ mamba_ssm ⇄ BioMamba (see docs/convert.md)."""

from .consolidate import ConversionError

__all__ = ["ConversionError"]
