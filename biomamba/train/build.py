"""Build what the loop needs from the config: the (parallelized) model and the data sources."""

from __future__ import annotations

from pathlib import Path

from biomamba.config import from_dict
from biomamba.model import MambaConfig, MambaLM
from biomamba.parallel import ParallelDims, parallelize
from biomamba.rundir import RunDir

from .checkpoint import requested_resume_tag
from .config import TrainConfig


def _checkpoint_model_config(cfg: TrainConfig, tag: str) -> MambaConfig:
    meta = RunDir(cfg.run_dir).read_meta(tag)
    return from_dict(MambaConfig, meta["config"]["model"]).validate()


def build_model(cfg: TrainConfig, dims: ParallelDims) -> MambaLM:
    """Full model, initialized identically on every rank (same seed), then sharded over TP."""
    # A run that resumes from its own checkpoint does not need (or re-read) the pretrained source.
    resume_tag = requested_resume_tag(cfg.run_dir, cfg.checkpoint.resume) if cfg.init.from_pretrained else None
    if cfg.init.from_pretrained and resume_tag is None:
        from biomamba.convert.pretrained import load_for_continued_pretraining

        model = load_for_continued_pretraining(cfg, dims.is_main)
    elif cfg.init.from_pretrained:
        # Resuming a continued-pretraining run: its architecture was derived from the pretrained
        # directory (and our tokenizer) at the start; the checkpoint records it.
        cfg.model = _checkpoint_model_config(cfg, resume_tag)
        model = MambaLM(cfg.model).init_weights(cfg.seed)  # values come from the checkpoint
    else:
        model = MambaLM(cfg.model).init_weights(cfg.seed)
    model.backbone.gradient_checkpointing = cfg.parallel.activation_checkpointing
    return parallelize(model, dims)


def build_data(cfg: TrainConfig, dims: ParallelDims):
    """(train source, factory of a fresh validation iterable or None)."""
    if cfg.synthetic_data:
        from .synthetic_data import SyntheticTokens

        def source(seed_offset: int):
            return SyntheticTokens(cfg.model.vocab_size, cfg.data.seq_len, cfg.data.micro_batch_size,
                                   dims.dp_rank, dims.dp, cfg.seed + seed_offset)

        def val():
            it = iter(source(10_000_019))
            return [next(it) for _ in range(cfg.eval.max_batches or 4)]

        return source(0), val
    from biomamba.data import build_train_loader, build_val_loader
    from biomamba.data.format import read_manifest

    vocab = max(read_manifest(ds.path)["vocab_size"] for ds in cfg.data.datasets)
    if vocab > cfg.model.vocab_size:
        from biomamba.config import ConfigError

        raise ConfigError(f"model.vocab_size={cfg.model.vocab_size} is smaller than the shards' vocabulary ({vocab}); "
                          f"set model.vocab_size={vocab}")
    doc_log = None
    if cfg.data.log_documents:  # debug: which documents each window holds (tests count them)
        doc_log = Path(cfg.run_dir) / "documents" / f"rank{dims.rank:05d}.jsonl"
        doc_log.parent.mkdir(parents=True, exist_ok=True)
    train = build_train_loader(cfg.data, dp_rank=dims.dp_rank, dp_size=dims.dp, seed=cfg.data.seed,
                               document_log=doc_log)
    val = None
    if cfg.data.val_path:
        val = lambda: build_val_loader(cfg.data, dp_rank=dims.dp_rank, dp_size=dims.dp)  # noqa: E731
    return train, val
