"""The training run's typed config tree (``configs/pretrain/*.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

from biomamba.config import Config, ConfigError
from biomamba.data.config import DataConfig
from biomamba.model.config import MambaConfig


@dataclass
class OptimConfig(Config):
    """AdamW. No weight decay on A_log, D, norm weights and biases (see biomamba.train.optim)."""

    lr: float = 3e-4
    min_lr_ratio: float = 0.1  # final lr = lr * min_lr_ratio
    betas: list[float] = field(default_factory=lambda: [0.9, 0.95])
    eps: float = 1e-8
    weight_decay: float = 0.1
    grad_clip: float = 1.0  # 0 disables clipping
    # fused = torch.optim.AdamW(fused=True), torch's own CUDA kernel (CUDA only; no DeepSpeed op build);
    # auto = fused on CUDA, torch's default AdamW elsewhere.
    impl: Literal["auto", "torch", "fused"] = "auto"

    def check(self) -> None:
        if self.lr <= 0:
            raise ConfigError(f"optim.lr: must be > 0, got {self.lr}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ConfigError(f"optim.min_lr_ratio: must be in [0, 1], got {self.min_lr_ratio}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ConfigError(f"optim.betas: need two numbers in [0, 1), got {self.betas}")
        if self.grad_clip < 0 or self.weight_decay < 0:
            raise ConfigError("optim.grad_clip / optim.weight_decay: must be >= 0")


@dataclass
class ScheduleConfig(Config):
    """Learning-rate schedule: linear warmup, then cosine or warmup-stable-decay (WSD) or constant."""

    kind: Literal["cosine", "wsd", "constant"] = "cosine"
    warmup_steps: int = 100
    decay_fraction: float = 0.2  # WSD: the last fraction of max_steps decays linearly to min lr

    def check(self) -> None:
        if self.warmup_steps < 0:
            raise ConfigError("schedule.warmup_steps: must be >= 0")
        if not 0 < self.decay_fraction <= 1:
            raise ConfigError("schedule.decay_fraction: must be in (0, 1]")


@dataclass
class ParallelConfig(Config):
    tensor_parallel: int = 1
    zero_stage: Literal[0, 1, 2, 3] = 1
    # bf16 = torch autocast with fp32 master weights: A_log, D and the scan state stay fp32.
    precision: Literal["fp32", "bf16"] = "bf16"
    activation_checkpointing: bool = False
    # > 0: the head's logits and loss are computed this many positions at a time and recomputed in the
    # backward (biomamba.ops.xent), so no (tokens, vocab) tensor of the whole micro-batch exists; costs one
    # extra head matmul. 0: the whole sequence at once.
    loss_chunk_tokens: int = 0
    gradient_accumulation_steps: int = 1
    backend: Literal["auto", "nccl", "gloo"] = "auto"
    # ZeRO communication buckets (elements). DeepSpeed's default 5e8 costs ~4 GB of fp32 buffers per
    # GPU whatever the model size (see docs/planner.md); 5e7 keeps ~400 MB with full overlap.
    reduce_bucket_size: int = 50_000_000
    allgather_bucket_size: int = 50_000_000
    # Optional JSON merged over the generated DeepSpeed config (e.g. configs/deepspeed/zero3_offload.json).
    deepspeed_config: Optional[str] = None

    def check(self) -> None:
        if self.deepspeed_config and not Path(self.deepspeed_config).is_file():
            raise ConfigError(f"parallel.deepspeed_config: file not found: {self.deepspeed_config}")
        if self.tensor_parallel < 1:
            raise ConfigError("parallel.tensor_parallel: must be >= 1")
        if self.gradient_accumulation_steps < 1:
            raise ConfigError("parallel.gradient_accumulation_steps: must be >= 1")
        if self.loss_chunk_tokens < 0:
            raise ConfigError("parallel.loss_chunk_tokens: must be >= 0 (0 = the whole sequence at once)")


@dataclass
class CheckpointConfig(Config):
    every_steps: int = 500
    keep_last: int = 3
    # "auto": resume from <run_dir>/checkpoints/latest when it exists; "never": always start fresh;
    # any other value: a tag to resume from.
    resume: str = "auto"
    allow_loader_mismatch: bool = False  # resume even if the data/loader fingerprint changed
    # A resume at another data-parallel size first converts the checkpoint to DeepSpeed's universal
    # format on rank 0 (the other ranks wait, on a group whose timeout is this plus 5 minutes, not
    # the 30-minute default of the training collectives). Workers: extract and merge processes.
    universal_workers: int = 4
    universal_timeout_s: float = 7200.0

    def check(self) -> None:
        if self.every_steps < 1:
            raise ConfigError("checkpoint.every_steps: must be >= 1")
        if self.keep_last < 1:
            raise ConfigError("checkpoint.keep_last: must be >= 1 (the newest checkpoint is always kept)")
        if self.universal_workers < 1 or self.universal_timeout_s <= 0:
            raise ConfigError("checkpoint.universal_workers / checkpoint.universal_timeout_s: must be >= 1 / > 0")


# Metric names where lower is better; selecting them with select_mode=max is refused (a silent footgun).
LOWER_IS_BETTER_SUFFIXES = ("loss", "ppl", "bpb", "perplexity", "cross_entropy", "bits_per_byte")


@dataclass
class EvalConfig(Config):
    every_steps: int = 500  # 0 disables periodic evaluation
    max_batches: Optional[int] = None  # None = the whole validation split
    at_end: bool = True
    # Model selection: a metric of the evaluation record (e.g. val_loss, dev_yesno_accuracy). Each evaluation
    # that improves it saves a checkpoint, records it in <run_dir>/best.json and protects it from pruning.
    select_metric: Optional[str] = None
    select_mode: Literal["max", "min"] = "max"
    # Stop (exit 0) after this many evaluations in a row without improving select_metric; None: never.
    patience: Optional[int] = None

    def check(self) -> None:
        if self.patience is not None and self.patience < 1:
            raise ConfigError(f"eval.patience: must be >= 1 or null, got {self.patience}")
        if self.patience is not None and not self.select_metric:
            raise ConfigError("eval.patience: early stopping needs eval.select_metric (the metric to watch)")
        if self.select_metric and self.select_mode == "max" and self.select_metric.endswith(LOWER_IS_BETTER_SUFFIXES):
            raise ConfigError(
                f"eval.select_mode=max but eval.select_metric={self.select_metric} is lower-is-better; "
                "set eval.select_mode=min"
            )
        if self.select_metric and not self.every_steps and not self.at_end:
            raise ConfigError("eval.select_metric: nothing is evaluated (eval.every_steps=0, eval.at_end=false)")


@dataclass
class WandbConfig(Config):
    enabled: bool = True
    project: str = "biomamba"
    entity: Optional[str] = None
    run_name: Optional[str] = None
    mode: Literal["offline", "online", "disabled"] = "offline"


@dataclass
class InitConfig(Config):
    """Continued pretraining: start from a local HF or mamba_ssm model directory."""

    from_pretrained: Optional[str] = None
    # "overlap": keep embedding rows of tokens whose string exists in both vocabularies, initialize
    # the rest; "error": refuse when the vocabularies differ.
    vocab_policy: Literal["overlap", "error"] = "overlap"
    source_tokenizer: Optional[str] = None  # the pretrained model's tokenizer (needed for "overlap")


@dataclass
class TrainConfig(Config):
    run_dir: str = "runs/default"
    seed: int = 1234
    max_steps: int = 1000
    log_every: int = 10
    tokenizer: Optional[str] = None  # path; its content hash goes into checkpoints
    max_consecutive_nonfinite: int = 5  # abort after this many NaN/Inf losses in a row
    peak_tflops: Optional[float] = None  # per device, for MFU; None = look up the device table
    # Train on deterministic synthetic tokens instead of data.datasets (tests, benchmarks).
    synthetic_data: bool = False
    model: MambaConfig = field(default_factory=MambaConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    parallel: ParallelConfig = field(default_factory=ParallelConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    wandb: WandbConfig = field(default_factory=WandbConfig)
    init: InitConfig = field(default_factory=InitConfig)

    def validate(self) -> "TrainConfig":
        if self.synthetic_data and not self.data.datasets:
            # No shard datasets are read; validate everything else.
            for name in ("model", "optim", "schedule", "parallel", "checkpoint", "eval", "wandb", "init"):
                getattr(self, name).validate()
            self.check()
            return self
        return super().validate()

    def check(self) -> None:
        if self.max_steps < 1:
            raise ConfigError("max_steps: must be >= 1")
        tp = self.parallel.tensor_parallel
        from biomamba.parallel.tp_layout import split_problems

        problems = split_problems(self.model, tp)
        if problems:
            raise ConfigError(
                f"parallel.tensor_parallel={tp} cannot split the model: {'; '.join(problems)}; "
                "choose a tensor_parallel that divides them"
            )
        if self.model.padded_vocab_size % tp:
            raise ConfigError(
                f"parallel.tensor_parallel={tp}: the padded vocabulary {self.model.padded_vocab_size} is not divisible "
                f"by it; set model.pad_vocab_size_multiple to a multiple of {tp}"
            )
        if self.schedule.warmup_steps >= self.max_steps and self.schedule.kind != "constant":
            raise ConfigError(
                f"schedule.warmup_steps={self.schedule.warmup_steps} >= max_steps={self.max_steps}; lower the warmup"
            )

    def check_inputs(self) -> None:
        """Checks that read the disk (prepared data splits); run before any process group starts."""
        from biomamba.data.format import ShardFormatError, read_manifest

        if self.tokenizer and not Path(self.tokenizer).is_file():
            raise ConfigError(f"tokenizer={self.tokenizer}: file not found; "
                              "set tokenizer to the tokenizer model/JSON file")
        if self.init.from_pretrained and not Path(self.init.from_pretrained).is_dir():
            raise ConfigError(f"init.from_pretrained={self.init.from_pretrained}: no such directory; set it to an HF, "
                              "mamba_ssm, BioMamba or training-run directory")
        paths = [] if self.synthetic_data else [(f"data.datasets.{i}.path", d.path)
                                                for i, d in enumerate(self.data.datasets)]
        if self.data.val_path:
            paths.append(("data.val_path", self.data.val_path))
        for key, path in paths:
            try:
                read_manifest(path)
            except (ShardFormatError, OSError) as exc:
                raise ConfigError(f"{key}={path}: {exc}; "
                                  f"set {key} to a prepared split folder (holding manifest.json)") from None

    def check_world(self, world_size: int) -> None:
        """Checks that need the launched world size (known from the launcher's environment before any process group)."""
        tp = self.parallel.tensor_parallel
        if world_size % tp:
            raise ConfigError(
                f"parallel.tensor_parallel={tp} does not divide the world size {world_size}; "
                f"launch a multiple of {tp} processes or change tensor_parallel"
            )
