"""What a model was trained on, read from its own training record (``biomamba_meta.json``).

* :func:`training_meta` -- the checkpoint's record: a training run's tag folder, or the copy an
  export (HF / mamba_ssm / BioMamba directory) carries.  ``None`` for other models.
* :func:`run_name` -- a display name from the run: scale (parameters), data, step, e.g.
  ``mamba-2.1M pubmed step 200`` (``--names`` overrides it).
* :func:`training_manifests` -- the shard manifests of the run's training data
  (``config.data.datasets[].path``), when they can still be found; the report reads their
  ``decontamination`` record to mark metrics on evaluation sets that were not removed.
"""

from __future__ import annotations

import json
from pathlib import Path

SPLIT_FOLDERS = {"train", "val", "test", "shards", "split", "manifest.json"}


def training_meta(path: Path, kind: str, tag: str | None) -> dict | None:
    from biomamba.convert.consolidate import checkpoints_dir

    if kind == "training":
        tag_dir = path if (path / "biomamba_meta.json").is_file() else checkpoints_dir(path) / (tag or "latest")
        meta_file = tag_dir / "biomamba_meta.json"
    else:
        meta_file = path / "biomamba_meta.json"
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta.get("config"), dict) else None


def _scale(model_cfg: dict) -> str | None:
    from biomamba.model.config import MambaConfig
    from biomamba.model.flops import param_count

    try:
        n = param_count(MambaConfig.from_dict(model_cfg))
    except Exception:  # an older or foreign record: the name just leaves the scale out
        return None
    for unit, div in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= div:
            return f"{n / div:.3g}{unit}"
    return str(n)


def data_name(dataset: dict) -> str:
    """A dataset's explicit ``name``, else the first folder of its path above split/shard folders."""
    if dataset.get("name"):
        return str(dataset["name"])
    parts = [p for p in Path(str(dataset.get("path", ""))).parts if p not in ("/", "")]
    while parts and parts[-1] in SPLIT_FOLDERS:
        parts.pop()
    return parts[-1] if parts else "data"


def run_name(meta: dict | None) -> str | None:
    if not meta:
        return None
    cfg = meta["config"]
    scale = _scale(cfg.get("model") or {})
    datasets = (cfg.get("data") or {}).get("datasets") or []
    data = "+".join(dict.fromkeys(data_name(d) for d in datasets if isinstance(d, dict)))
    step = (meta.get("train_state") or {}).get("step")
    bits = [f"mamba-{scale}" if scale else "mamba", data or None, f"step {step}" if step is not None else None]
    return " ".join(b for b in bits if b)


def training_manifests(meta: dict | None) -> list[tuple[str, dict | None]]:
    """``[(dataset path, manifest or None when it cannot be read)]`` of the run's training data."""
    if not meta:
        return []
    out = []
    for d in (meta["config"].get("data") or {}).get("datasets") or []:
        path = Path(str(d.get("path", "")))
        manifest = path if path.name == "manifest.json" else path / "manifest.json"
        try:
            out.append((str(path), json.loads(manifest.read_text())))
        except (OSError, ValueError):
            out.append((str(path), None))
    return out
