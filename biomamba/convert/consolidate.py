"""Training checkpoint (any ZeRO stage, any TP × DP layout) → one full fp32 state dict.

Per tensor-parallel rank, ZeRO shards are gathered by DeepSpeed's own
``zero_to_fp32`` (pointed at a folder holding only that TP rank's files), which
reconstructs the fp32 master weights from the optimizer partitions; ZeRO-0
checkpoints carry full weights in ``mp_rank_XX_model_states.pt``. The TP slices
are then merged by :mod:`biomamba.parallel.tp_layout`.

DeepSpeed's files are pickles. They are read with PyTorch's restricted unpickler
(``weights_only=True`` plus three DeepSpeed record types, :mod:`biomamba.safe_load`), also
inside DeepSpeed's ``zero_to_fp32``, and only from a tag folder that carries our
``COMPLETE`` marker and ``biomamba_meta.json``.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
import zipfile
from pathlib import Path

import torch

from biomamba.config import from_dict
from biomamba.model import MambaConfig
from biomamba.parallel import tp_layout
from biomamba.rundir import LATEST, META, checkpoints_dir, read_meta, resolve_tag
from biomamba.safe_load import load_checkpoint_file, restricted_torch_load


class ConversionError(RuntimeError):
    """A checkpoint cannot be converted; the message names the file or tag and what to do."""


def expected_files(layout: dict) -> list[str]:
    tp, dp, zero = layout["tp"], layout["dp"], layout["zero_stage"]
    files = []
    for t in range(tp):
        if zero == 3:
            files += [f"zero_pp_rank_{d}_mp_rank_{t:02d}_model_states.pt" for d in range(dp)]
        else:
            files.append(f"mp_rank_{t:02d}_model_states.pt")
        if zero >= 1:
            files += [f"zero_pp_rank_{d}_mp_rank_{t:02d}_optim_states.pt" for d in range(dp)]
    return files


def check_files(tag_dir: Path, layout: dict) -> None:
    """Every shard file the layout implies is present and is an intact archive; no shard beyond the layout.

    ``torch.save`` writes zip archives whose central directory is at the end, so a truncated
    file (a save killed mid-write, a partial copy) fails ``zipfile`` immediately, and the
    error names the file instead of surfacing as an unpickling error deep inside DeepSpeed.
    """
    expected = expected_files(layout)
    missing = [f for f in expected if not (tag_dir / f).is_file()]
    if missing:
        raise ConversionError(
            f"{tag_dir} lacks {len(missing)} shard file(s) for its layout (TP={layout['tp']}, DP={layout['dp']}, "
            f"ZeRO-{layout['zero_stage']}): {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}"
        )
    pattern = re.compile(r"(zero_pp_rank_\d+_)?mp_rank_\d+_(model|optim)_states\.pt")
    extra = sorted(f.name for f in tag_dir.iterdir() if pattern.fullmatch(f.name) and f.name not in expected)
    if extra:
        raise ConversionError(
            f"layout mismatch in {tag_dir}: biomamba_meta.json says TP={layout['tp']}, DP={layout['dp']}, "
            f"ZeRO-{layout['zero_stage']}, but it also holds {', '.join(extra[:5])}; the meta file does not "
            "belong to these shards"
        )
    for f in expected:
        try:
            with zipfile.ZipFile(tag_dir / f) as z:
                z.namelist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise ConversionError(f"{tag_dir / f} is corrupt or truncated ({exc}); use an earlier tag") from exc


def _quiet():
    return contextlib.redirect_stdout(io.StringIO())


def _tp_rank_state(tag_dir: Path, t: int, zero: int) -> dict[str, torch.Tensor]:
    if zero == 0:
        sd = load_checkpoint_file(tag_dir / f"mp_rank_{t:02d}_model_states.pt")["module"]
        return {k: v.float() for k, v in sd.items() if torch.is_tensor(v)}
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

    with tempfile.TemporaryDirectory() as tmp:
        view = Path(tmp) / "view"
        view.mkdir()
        for f in tag_dir.glob(f"*mp_rank_{t:02d}_*states.pt"):
            (view / f.name).symlink_to(f.resolve())
        with _quiet(), restricted_torch_load():
            sd = get_fp32_state_dict_from_zero_checkpoint(tmp, tag="view")
    return {k: v.float() for k, v in sd.items()}


def _own_storage(t: torch.Tensor) -> torch.Tensor:
    """A contiguous tensor that owns its storage.

    zero_to_fp32 returns views into its flat fp32 partitions; safetensors (rightly) refuses to
    save a tensor that covers only part of its storage, and a view would keep the whole flat
    buffer alive.
    """
    t = t.contiguous()
    if t.untyped_storage().nbytes() != t.numel() * t.element_size():
        t = t.clone()
    return t


def consolidate(path: str | os.PathLike, tag: str = LATEST) -> tuple[MambaConfig, dict[str, torch.Tensor], dict]:
    """(model config, full fp32 state dict with our/mamba_ssm key names, checkpoint meta)."""
    ckpt_dir = checkpoints_dir(path, ConversionError)
    tag_dir = ckpt_dir / resolve_tag(ckpt_dir, tag, ConversionError)
    meta = read_meta(tag_dir, ConversionError)
    layout = meta.get("layout")
    if not isinstance(layout, dict) or not {"tp", "dp", "zero_stage"} <= set(layout):
        raise ConversionError(f"{tag_dir / META}: no 'layout' with tp, dp and zero_stage")
    check_files(tag_dir, layout)
    cfg = from_dict(MambaConfig, meta["config"]["model"]).validate()
    per_rank = []
    for t in range(layout["tp"]):
        try:
            per_rank.append(_tp_rank_state(tag_dir, t, layout["zero_stage"]))
        except Exception as exc:  # torch/DeepSpeed errors on truncated pickles are cryptic
            raise ConversionError(f"cannot read the TP rank {t} shards of {tag_dir}: {exc}") from exc
    full = {}
    for name in per_rank[0]:
        if name.endswith("_extra_state") or (cfg.tie_embeddings and name == "lm_head.weight"):
            continue  # a tied head is the embedding; DeepSpeed lists shared tensors inconsistently
        absent = [t for t, r in enumerate(per_rank) if name not in r]
        if absent:
            raise ConversionError(f"{tag_dir}: parameter {name} is missing from TP rank(s) {absent}")
        try:
            full[name] = _own_storage(tp_layout.merge(name, [r[name] for r in per_rank], cfg))
        except ValueError as exc:
            raise ConversionError(f"{tag_dir}: cannot merge the TP shards: {exc}") from exc
    if cfg.tie_embeddings or "lm_head.weight" not in full:
        full["lm_head.weight"] = full["backbone.embedding.weight"]
    return cfg, full, meta
