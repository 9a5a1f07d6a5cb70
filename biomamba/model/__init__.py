"""Mamba-1 language model (mixer → block → LM), weights interchangeable with mamba_ssm and HF."""

from .config import MambaConfig
from .flops import flops_per_token, param_count
from .generation import generate
from .lm import MambaLM

__all__ = ["MambaConfig", "MambaLM", "generate", "param_count", "flops_per_token"]
