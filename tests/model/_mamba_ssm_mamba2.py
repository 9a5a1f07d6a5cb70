"""Run in a subprocess: build mamba_ssm's own ``MambaLMHeadModel`` with a Mamba-2 config and save
its ``config.json`` and state dict (``torch.save``) into a directory.

Construction needs no GPU, but ``mamba_ssm/__init__.py`` imports the compiled ``selective_scan_cuda``;
bare package objects stand in for mamba_ssm's packages (and an empty module for the extension)
so no package ``__init__`` runs. Never run this in a process that runs HF's Mamba.
"""

import dataclasses
import importlib.util
import json
import sys
import types
from pathlib import Path

import torch


def main(config_json: str, out: str) -> None:
    root = Path(importlib.util.find_spec("mamba_ssm").origin).parent
    for sub in ("", "ops", "ops/triton", "utils", "modules", "distributed", "models"):
        name = "mamba_ssm" + ("." + sub.replace("/", ".") if sub else "")
        pkg = types.ModuleType(name)
        pkg.__path__ = [str(root / sub)]
        sys.modules[name] = pkg
    sys.modules["selective_scan_cuda"] = types.ModuleType("selective_scan_cuda")
    from mamba_ssm.models.config_mamba import MambaConfig
    from mamba_ssm.models.mixer_seq_simple import MambaLMHeadModel

    torch.manual_seed(0)
    cfg = MambaConfig(**json.loads(config_json))
    model = MambaLMHeadModel(cfg)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg)))
    torch.save(model.state_dict(), out / "pytorch_model.bin")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
