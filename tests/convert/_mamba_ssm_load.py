"""Run in a subprocess: open a directory with mamba_ssm's own loader functions and describe what they read.

``mamba_ssm.models.mixer_seq_simple.MambaLMHeadModel.from_pretrained`` is
``MambaConfig(**load_config_hf(d))`` + ``load_state_dict(load_state_dict_hf(d))``. Building the
model itself needs mamba_ssm's triton/CUDA kernels, so this script runs the two loader
functions and the config dataclass — the parts that read our files — and prints the config
and every tensor's name, shape, dtype and sum as JSON. ``mamba_ssm/__init__.py`` imports the
kernels, so a bare package object stands in for ``mamba_ssm`` (the submodules used import
only torch, transformers and dataclasses). Never run this in a process that runs HF's Mamba.
"""

import dataclasses
import importlib.util
import json
import sys
import types
from pathlib import Path


def main(model_dir: str) -> None:
    root = Path(importlib.util.find_spec("mamba_ssm").origin).parent
    pkg = types.ModuleType("mamba_ssm")
    pkg.__path__ = [str(root)]
    sys.modules["mamba_ssm"] = pkg
    from mamba_ssm.models.config_mamba import MambaConfig
    from mamba_ssm.utils.hf import load_config_hf, load_state_dict_hf

    config = MambaConfig(**load_config_hf(model_dir))
    sd = load_state_dict_hf(model_dir)
    shared = sd["lm_head.weight"].data_ptr() == sd["backbone.embedding.weight"].data_ptr()
    print(json.dumps({
        "config": dataclasses.asdict(config),
        "tensors": {k: [list(v.shape), str(v.dtype), float(v.double().sum())] for k, v in sd.items()},
        "head_shares_embedding": shared,
    }))


if __name__ == "__main__":
    main(sys.argv[1])
