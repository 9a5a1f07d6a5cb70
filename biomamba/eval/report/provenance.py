"""What a model was trained on, read from its own training record (``biomamba_meta.json``).

* :func:`training_meta` -- the checkpoint's record: a training run's tag folder, or the copy an
  export (HF / mamba_ssm / BioMamba directory) carries.  ``None`` for other models.
* :func:`run_name` -- a display name from the run: scale (parameters), data, step, e.g.
  ``mamba-2.1M pubmed step 200`` (``--names`` overrides it).
* :func:`lineage` -- that record and the records of the models it started from
  (``config.init.from_pretrained``, e.g. a fine-tuning run -> its pretrained export).
* :func:`training_manifests` -- the shard manifests of the lineage's pretraining data
  (``config.data.datasets[].path``), when they can still be found; the report reads their
  ``decontamination`` record to mark metrics on evaluation sets that were not removed.
* :func:`finetune_sets` -- the BioASQ files fine-tuning trained on and excluded.
"""

from __future__ import annotations

import json
from pathlib import Path

SPLIT_FOLDERS = {"train", "val", "test", "shards", "split", "manifest.json"}


def training_meta(path: Path, kind: str, tag: str | None) -> dict | None:
    from biomamba.convert.consolidate import ConversionError
    from biomamba.rundir import LATEST, META, checkpoints_dir

    if kind == "training":
        tag_dir = path if (path / META).is_file() else checkpoints_dir(path, ConversionError) / (tag or LATEST)
        meta_file = tag_dir / META
    else:
        meta_file = path / META
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta.get("config"), dict) else None


def _meta_at(path: Path) -> dict | None:
    """The training record stored at a model path (export folder, run, or checkpoint tag)."""
    from biomamba.convert.consolidate import ConversionError
    from biomamba.rundir import LATEST, META, checkpoints_dir, resolve_tag

    if (path / META).is_file():
        return training_meta(path, "export", None)
    try:
        ckpt = checkpoints_dir(path, ConversionError)
        return training_meta(ckpt / resolve_tag(ckpt, LATEST, ConversionError), "training", None)
    except (ConversionError, OSError, ValueError):
        return None


def lineage(meta: dict | None, depth: int = 4) -> list[dict]:
    """``meta`` and the records of the models it was initialised from, nearest first."""
    out = []
    while meta and len(out) < depth:
        out.append(meta)
        parent = (meta["config"].get("init") or {}).get("from_pretrained")
        meta = _meta_at(Path(parent)) if parent else None
    return out


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
    tuned = (cfg.get("finetune") or {}).get("train_json")
    if tuned:  # a fine-tuning run: named by its training file
        data = f"ft:{Path(str(tuned)).stem}"
    step = (meta.get("train_state") or {}).get("step")
    bits = [f"mamba-{scale}" if scale else "mamba", data or None, f"step {step}" if step is not None else None]
    return " ".join(b for b in bits if b)


def training_manifests(meta: dict | None) -> list[tuple[str, dict | None]]:
    """``[(dataset path, manifest or None when it cannot be read)]`` of the run's training data."""
    out = []
    datasets = [d for m in lineage(meta) for d in (m["config"].get("data") or {}).get("datasets") or []]
    for d in datasets:
        path = Path(str(d.get("path", "")))
        manifest = path if path.name == "manifest.json" else path / "manifest.json"
        try:
            out.append((str(path), json.loads(manifest.read_text())))
        except (OSError, ValueError):
            out.append((str(path), None))
    return out


def finetune_sets(meta: dict | None) -> list[dict]:
    """``[{"train_json", "exclude_json"}]`` of every fine-tuning step in the model's lineage."""
    out = []
    for m in lineage(meta):
        ft = m["config"].get("finetune") or {}
        if ft.get("train_json"):
            excluded = [str(x) for x in ft.get("exclude_json") or []]
            out.append({"train_json": str(ft["train_json"]), "exclude_json": excluded})
    return out
