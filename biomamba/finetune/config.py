"""Fine-tuning config: the whole training-engine tree (:class:`TrainConfig`) plus a ``finetune:`` section.

Every engine key (``parallel.*``, ``optim.*``, ``checkpoint.*``, ``wandb.*``, ``init.*``, …)
works unchanged. The engine's shard loader is not used: the examples come from
``finetune.train_json``; ``data.micro_batch_size`` is the number of examples per micro-batch
and the other ``data.*`` keys are ignored. Model selection uses the engine's
``eval.select_metric`` / ``eval.select_mode`` / ``eval.patience`` with the dev metrics
(:data:`DEV_METRICS`) at every ``eval.every_steps``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal, Optional

from biomamba.config import Config, ConfigError
from biomamba.eval.bioasq.scorer import SCORE_KEYS
from biomamba.eval.decoding import DecodingConfig
from biomamba.train.config import InitConfig, TrainConfig

ANSWER_KINDS = ("exact", "ideal")
# What dev_eval reports: the answer-token loss of the dev examples and the official BioASQ scores.
DEV_LOSS_METRICS = ("dev_loss", "dev_ppl", "dev_bpb")
DEV_METRICS = DEV_LOSS_METRICS + tuple(f"dev_{k}" for k in SCORE_KEYS)


@dataclass
class DevDecodingConfig(DecodingConfig):
    """Answering the dev questions: the training prompt budget (null: ``max_length - max_exact_tokens``) and,
    by default, no ideal answers (slow: one generation per dev question; only the dev ROUGE metrics need them)."""

    max_prompt_tokens: Optional[int] = None
    ideal_answers: bool = False


@dataclass
class FinetuneSection(Config):
    """Where the questions come from, how the dev split is carved, how examples and prompts look."""

    # BioASQ task-b training set (JSON with "questions"; exact and ideal answers).
    train_json: str = ""
    # BioASQ files whose questions (same id or same question text) must not be trained or selected on,
    # e.g. the test batches you will report on when the training set is a later year's.
    exclude_json: list[str] = field(default_factory=list)
    # Share of training questions held out as the dev split, chosen by a hash of (dev_salt, question id):
    # stable as the training file grows. Training questions whose text equals a dev question's are dropped.
    dev_fraction: float = 0.1
    dev_salt: str = "biomamba-dev"
    max_length: int = 1024  # tokens per example: prompt (snippets cut to fit) + answer + EOS
    max_answer_tokens: int = 256
    answer_kinds: list[str] = field(default_factory=lambda: list(ANSWER_KINDS))
    shuffle: bool = True  # shuffle examples each epoch (seeded by `seed` and the epoch)
    epochs: Optional[int] = None  # stop after this many passes; None: until max_steps / early stop
    dev_max_questions: Optional[int] = None  # evaluate on the first N dev questions (by id); None: all
    # How the dev questions are answered (as launcher/evaluate.py does); decoding.repeat_question also shapes
    # the training prompts (evaluate with the same setting).
    decoding: DevDecodingConfig = field(default_factory=DevDecodingConfig)
    # Keys of configs written before the decoding section: still read, with a warning.
    renamed_keys: ClassVar[dict[str, str]] = {
        "repeat_question": "decoding.repeat_question", "dev_ideal_answers": "decoding.ideal_answers",
        "max_exact_tokens": "decoding.max_exact_tokens", "max_ideal_tokens": "decoding.max_ideal_tokens",
        "factoid_candidates": "decoding.factoid_candidates"}

    def check(self) -> None:
        if not self.train_json:
            raise ConfigError("finetune.train_json: empty; set it to a BioASQ task-b training file (JSON)")
        # Checked here so a Slurm job's --dry-run fails in seconds, before any rank starts.
        for key, path in [("train_json", self.train_json)] + [
                (f"exclude_json[{i}]", p) for i, p in enumerate(self.exclude_json)]:
            if not Path(path).is_file():
                raise ConfigError(f"finetune.{key}: no such file: {path}")
        if not 0 <= self.dev_fraction < 1:
            raise ConfigError(f"finetune.dev_fraction: must be in [0, 1), got {self.dev_fraction}")
        unknown = [k for k in self.answer_kinds if k not in ANSWER_KINDS]
        if unknown or not self.answer_kinds:
            raise ConfigError(f"finetune.answer_kinds: {unknown or 'empty'}; choose from {list(ANSWER_KINDS)}")
        for key in ("max_length", "max_answer_tokens"):
            if getattr(self, key) < 1:
                raise ConfigError(f"finetune.{key}: must be >= 1, got {getattr(self, key)}")
        if self.decoding.max_exact_tokens >= self.max_length:
            raise ConfigError(f"finetune.decoding.max_exact_tokens={self.decoding.max_exact_tokens} (formerly "
                              f"finetune.max_exact_tokens) leaves no room for the prompt in "
                              f"finetune.max_length={self.max_length}")
        for key in ("epochs", "dev_max_questions"):
            if getattr(self, key) is not None and getattr(self, key) < 1:
                raise ConfigError(f"finetune.{key}: must be >= 1 or null, got {getattr(self, key)}")


@dataclass
class FinetuneInitConfig(InitConfig):
    """Fine-tuning keeps the pretrained model's vocabulary: a different tokenizer is an error, not a remap."""

    vocab_policy: Literal["overlap", "error"] = "error"


@dataclass
class FinetuneConfig(TrainConfig):
    init: FinetuneInitConfig = field(default_factory=FinetuneInitConfig)
    finetune: FinetuneSection = field(default_factory=FinetuneSection)

    def validate(self) -> "FinetuneConfig":
        # data.datasets stays empty (the examples come from finetune.train_json): check everything else.
        for name in ("model", "optim", "schedule", "parallel", "checkpoint", "eval", "wandb", "init", "finetune"):
            getattr(self, name).validate()
        self.check()
        return self

    def check(self) -> None:
        super().check()
        if self.synthetic_data or self.data.datasets:
            raise ConfigError("synthetic_data / data.datasets: fine-tuning reads finetune.train_json only; "
                              "remove them")
        if self.data.micro_batch_size < 1:
            raise ConfigError(f"data.micro_batch_size: must be >= 1 (examples per micro-batch), got "
                              f"{self.data.micro_batch_size}")
        if self.init.from_pretrained and not Path(self.init.from_pretrained).is_dir():
            raise ConfigError(f"init.from_pretrained: no such model directory: {self.init.from_pretrained} (an export, "
                              "HF or mamba_ssm directory, or a training run)")
        if self.init.from_pretrained and self.init.vocab_policy != "error":
            raise ConfigError("init.vocab_policy: fine-tuning must keep the pretrained model's tokenizer; "
                              "set init.vocab_policy=error")
        if not self.init.from_pretrained and not self.tokenizer:
            raise ConfigError("tokenizer: a model trained from scratch needs one; set tokenizer=PATH "
                              "(or start from a model with init.from_pretrained=DIR, which brings its own)")
        metric = self.eval.select_metric
        if metric and metric not in DEV_METRICS:
            raise ConfigError(f"eval.select_metric={metric}: fine-tuning selects on a dev metric, one of "
                              f"{list(DEV_METRICS)}")
        if metric and self.finetune.dev_fraction == 0:
            raise ConfigError(f"eval.select_metric={metric}: there is no dev split (finetune.dev_fraction=0)")
        if metric and metric.startswith("dev_rouge") and not self.finetune.decoding.ideal_answers:
            raise ConfigError(f"eval.select_metric={metric}: set finetune.decoding.ideal_answers=true (formerly "
                              "finetune.dev_ideal_answers) to generate the ideal answers it scores")
