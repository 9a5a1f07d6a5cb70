"""The training run directory: its layout, its checkpoints' metadata, and which checkpoint may be trusted.

The one place that spells the layout training, fine-tuning, conversion, evaluation and the
pipeline share (written by ``train/trainer.py``, ``train/checkpoint.py``, ``train/selection.py``)::

    <run_dir>/
        config.yaml                 the resolved training config
        versions.json               package versions, git commit, kernels
        metrics.jsonl               one record per logged step / evaluation
        best.json                   model selection's best checkpoint {tag, step, metric, value}
        checkpoints/
            latest                  newest COMPLETE tag (text)
            step_00000100/          one tag: DeepSpeed shards, biomamba_rankNNNNN.pt,
                biomamba_meta.json  step, tokens, config, tokenizer hash, versions, layout
                COMPLETE            written after every rank saved; only such tags are trusted
            step_00000100_universal/  DeepSpeed universal form, for a resume at another DP size

A model path given to conversion or evaluation may be the run directory, its ``checkpoints/``
folder or one tag folder (:func:`is_tag_dir`); :func:`checkpoints_dir` and :func:`resolve_tag`
take any of the first two, with the caller's error type (``CheckpointError`` in training,
``ConversionError`` in conversion and evaluation).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

CONFIG = "config.yaml"
VERSIONS = "versions.json"
METRICS = "metrics.jsonl"
BEST = "best.json"
CHECKPOINTS = "checkpoints"
LATEST = "latest"
COMPLETE = "COMPLETE"
META = "biomamba_meta.json"
TAG_RE = re.compile(r"step_\d{8}")


class CheckpointError(RuntimeError):
    """A checkpoint cannot be trusted or loaded; the message names the folder and what to do."""


def tag_for(step: int) -> str:
    return f"step_{step:08d}"


def is_tag_dir(p: str | os.PathLike) -> bool:
    """A checkpoint tag folder (``checkpoints/step_XXXXXXXX``): its meta or DeepSpeed shards, and neither
    an export's ``config.json`` (exports carry a copy of the meta) nor a run's ``checkpoints/``."""
    p = Path(p)
    if (p / "config.json").is_file() or (p / CHECKPOINTS).is_dir():
        return False
    return (p / META).is_file() or any(p.glob("*_model_states.pt"))


def is_training_dir(p: str | os.PathLike) -> bool:
    """A run directory, its ``checkpoints/`` folder or a tag folder."""
    p = Path(p)
    return (p / CHECKPOINTS).is_dir() or (p / LATEST).is_file() or any(p.glob(f"step_*/{COMPLETE}")) or is_tag_dir(p)


def checkpoints_dir(path: str | os.PathLike, error: type[Exception] = CheckpointError) -> Path:
    """The ``checkpoints`` folder of a run directory, or ``path`` itself when it is one; ``error`` otherwise."""
    p = Path(path)
    if (p / CHECKPOINTS).is_dir():
        return p / CHECKPOINTS
    if p.is_dir() and (p.name == CHECKPOINTS or any(p.glob("step_*"))):
        return p
    raise error(f"{p} is neither a training run directory nor its checkpoints/ folder")


def resolve_tag(ckpt_dir: str | os.PathLike, tag: str, error: type[Exception] = CheckpointError) -> str:
    """The complete checkpoint ``tag`` (or the one ``latest`` names) in ``ckpt_dir``; ``error`` otherwise.

    The one rule for which checkpoint may be trusted, shared by resume, conversion and
    evaluation: it exists and carries the ``COMPLETE`` marker that is written after every rank saved.
    """
    ckpt_dir = Path(ckpt_dir)
    if tag == LATEST:
        latest = ckpt_dir / LATEST
        if not latest.is_file():
            raise error(f"no 'latest' file in {ckpt_dir}: the run never completed a checkpoint; name a tag")
        tag = latest.read_text().strip()
    if not (ckpt_dir / tag).is_dir():
        known = sorted(p.name for p in ckpt_dir.glob("step_*"))
        raise error(f"checkpoint tag {tag!r} not found in {ckpt_dir}; available: {known}")
    if not (ckpt_dir / tag / COMPLETE).is_file():
        raise error(
            f"{ckpt_dir / tag} is incomplete (no {COMPLETE} marker): its save was interrupted; use an earlier tag")
    return tag


def read_meta(tag_dir: str | os.PathLike, error: type[Exception] = CheckpointError) -> dict:
    """``<tag_dir>/biomamba_meta.json``; ``error`` names the file when it is missing or not JSON."""
    p = Path(tag_dir) / META
    if not p.is_file():
        raise error(f"{p} is missing: not a BioMamba training checkpoint")
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise error(f"{p} is not valid JSON ({exc}); the checkpoint is corrupt") from exc


class RunDir:
    """Paths of one training run directory, and its checkpoints (see the module docstring)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"RunDir({str(self.root)!r})"

    @property
    def config(self) -> Path:
        return self.root / CONFIG

    @property
    def versions(self) -> Path:
        return self.root / VERSIONS

    @property
    def metrics(self) -> Path:
        return self.root / METRICS

    @property
    def best(self) -> Path:
        return self.root / BEST

    @property
    def checkpoints(self) -> Path:
        return self.root / CHECKPOINTS

    @property
    def latest(self) -> Path:
        return self.checkpoints / LATEST

    def tag_dir(self, tag: str) -> Path:
        return self.checkpoints / tag

    def resolve(self, tag: str = LATEST, error: type[Exception] = CheckpointError) -> str:
        """:func:`resolve_tag` in this run's ``checkpoints/``."""
        return resolve_tag(self.checkpoints, tag, error)

    def latest_tag(self, error: type[Exception] = CheckpointError) -> str | None:
        """The complete tag ``latest`` names, None before the first checkpoint."""
        return self.resolve(LATEST, error) if self.latest.is_file() else None

    def best_tag(self) -> str | None:
        """The tag ``best.json`` (model selection) names, None without one."""
        return json.loads(self.best.read_text())["tag"] if self.best.is_file() else None

    def read_meta(self, tag: str, error: type[Exception] = CheckpointError) -> dict:
        return read_meta(self.tag_dir(tag), error)
