"""Reading and writing weight files safely: safetensors (sharded or not) and ``torch.load(weights_only=True)``.

Nothing here unpickles arbitrary objects: ``.bin`` files go through PyTorch's restricted
unpickler, which only rebuilds tensors and plain containers, and a file holding anything
else is refused with a :class:`ConversionError` naming it. Sharding is delegated to
``huggingface_hub.save_torch_state_dict`` (the same splitter and index format
``transformers`` uses), so exported directories load with every HF tool.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .consolidate import ConversionError

SAFE_SINGLE, SAFE_INDEX = "model.safetensors", "model.safetensors.index.json"
BIN_SINGLE, BIN_INDEX = "pytorch_model.bin", "pytorch_model.bin.index.json"
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def has_weights(d: Path) -> bool:
    return any((d / n).is_file() for n in (SAFE_SINGLE, SAFE_INDEX, BIN_SINGLE, BIN_INDEX))


def _load_bin(path: Path) -> dict[str, torch.Tensor]:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # the restricted unpickler refuses code objects with an UnpicklingError
        raise ConversionError(f"{path}: not a plain tensor file (refused by torch.load(weights_only=True)): {exc}") from exc
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in obj.items()):
        raise ConversionError(f"{path}: expected a dict of tensors")
    return dict(obj)


def _load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:
        raise ConversionError(f"{path}: unreadable safetensors file ({exc})") from exc


def _index_files(index: Path) -> list[Path]:
    try:
        weight_map = json.loads(index.read_text())["weight_map"]
    except (json.JSONDecodeError, KeyError) as exc:
        raise ConversionError(f"{index}: not a valid weight index ({exc})") from exc
    files = sorted(set(weight_map.values()))
    missing = [f for f in files if not (index.parent / f).is_file()]
    if missing:
        raise ConversionError(f"{index.parent} lacks shard file(s) listed in {index.name}: {', '.join(missing)}")
    return [index.parent / f for f in files]


def load_weights(d: Path) -> dict[str, torch.Tensor]:
    """All tensors of a model directory (safetensors preferred over ``.bin``; sharded or not)."""
    if (d / SAFE_INDEX).is_file():
        files, reader = _index_files(d / SAFE_INDEX), _load_safetensors
    elif (d / SAFE_SINGLE).is_file():
        files, reader = [d / SAFE_SINGLE], _load_safetensors
    elif (d / BIN_INDEX).is_file():
        files, reader = _index_files(d / BIN_INDEX), _load_bin
    elif (d / BIN_SINGLE).is_file():
        files, reader = [d / BIN_SINGLE], _load_bin
    else:
        raise ConversionError(f"{d}: no {SAFE_SINGLE}, {SAFE_INDEX}, {BIN_SINGLE} or {BIN_INDEX}")
    out: dict[str, torch.Tensor] = {}
    for f in files:
        out.update(reader(f))
    return out


def cast(sd: dict[str, torch.Tensor], dtype: str | None) -> dict[str, torch.Tensor]:
    """Floating tensors to ``dtype`` ("fp32"/"bf16"); None or "auto" keeps them as they are."""
    if dtype in (None, "auto"):
        return sd
    target = DTYPES[dtype]
    return {k: (v.to(target) if v.is_floating_point() else v) for k, v in sd.items()}


def dtype_name(sd: dict[str, torch.Tensor]) -> str:
    """The dtype of the floating tensors ("float32", "bfloat16"), or "mixed"."""
    names = {str(v.dtype).removeprefix("torch.") for v in sd.values() if v.is_floating_point()}
    return names.pop() if len(names) == 1 else "mixed"


def without_tied_head(sd: dict[str, torch.Tensor], tied: bool) -> dict[str, torch.Tensor]:
    """safetensors cannot hold two names for one tensor; a tied head is restored by the loader."""
    return {k: v for k, v in sd.items() if not (tied and k == "lm_head.weight")}


def save_safetensors(sd: dict[str, torch.Tensor], out_dir: Path, max_shard_size: str | int = "5GB") -> None:
    """``model.safetensors`` or ``model-0000i-of-0000n.safetensors`` + index, via huggingface_hub."""
    from huggingface_hub import save_torch_state_dict

    save_torch_state_dict({k: v.contiguous() for k, v in sd.items()}, out_dir, max_shard_size=max_shard_size)


def save_bin(sd: dict[str, torch.Tensor], path: Path) -> None:
    """A plain ``{name: tensor}`` pickle that ``torch.load(weights_only=True)`` reads (mamba_ssm's format)."""
    torch.save({k: v.contiguous() for k, v in sd.items()}, path)  # a tied head stays one shared storage
