"""Configuration of an evaluation run (``launcher/evaluate.py`` and the fine-tuning dev check)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from biomamba.config import Config, ConfigError

EVAL_TASKS = ("bioasq", "pubmedqa", "lm")


@dataclass
class EvalConfig(Config):
    """Which benchmarks to run on a model, on which files, with which decoding budgets.

    * ``bioasq``: answer every question of ``bioasq_gold`` (a golden file), write
      the submission to ``submission_out`` if set, score it officially.
    * ``pubmedqa``: predict yes/no/maybe for the PMIDs of ``pubmedqa_ground_truth``
      (questions read from ``pubmedqa_data``), report accuracy and macro-F1.
    * ``lm``: cross-entropy, perplexity and bits per byte on the snippets and
      ideal answers of ``bioasq_gold`` (when set) and on each JSONL file of
      ``lm_texts`` (name -> path, field ``text``).
    """

    tasks: list[str] = field(default_factory=lambda: ["bioasq"])
    bioasq_gold: str | None = None
    submission_out: str | None = None
    pubmedqa_data: str | None = None
    pubmedqa_ground_truth: str | None = None
    lm_texts: dict[str, str] = field(default_factory=dict)
    lm_max_texts: int | None = None
    lm_max_length: int = 2048
    lm_batch_size: int = 4
    max_prompt_tokens: int = 1024
    max_exact_tokens: int = 32
    max_ideal_tokens: int = 200
    factoid_candidates: int = 5
    repeat_question: bool = True
    # False skips generating ideal answers: much faster (e.g. dev-set checks on exact answers); ROUGE then scores 0.
    ideal_answers: bool = True
    missing: Literal["zero", "skip"] = "zero"
    rouge_stemmer: bool = False
    # 95 % bootstrap intervals in the comparison report: resamples of the questions / documents, and their seed.
    bootstrap_resamples: int = 1000
    bootstrap_seed: int = 0

    def check(self) -> None:
        unknown = [t for t in self.tasks if t not in EVAL_TASKS]
        if unknown or not self.tasks:
            raise ConfigError(f"tasks: {unknown or 'empty'} not valid; choose from {list(EVAL_TASKS)}")
        if "bioasq" in self.tasks and not self.bioasq_gold:
            raise ConfigError("bioasq_gold: the bioasq task needs a golden file; set bioasq_gold=PATH")
        if "pubmedqa" in self.tasks and not (self.pubmedqa_data and self.pubmedqa_ground_truth):
            raise ConfigError(
                "pubmedqa_data/pubmedqa_ground_truth: the pubmedqa task needs both; "
                "set pubmedqa_data=ori_pqal.json pubmedqa_ground_truth=test_ground_truth.json"
            )
        if "lm" in self.tasks and not (self.bioasq_gold or self.lm_texts):
            raise ConfigError("lm_texts: the lm task needs texts; set bioasq_gold=PATH or lm_texts.NAME=PATH.jsonl")
        for name in ("lm_max_length", "lm_batch_size", "max_prompt_tokens", "max_exact_tokens", "max_ideal_tokens"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name}: must be positive, got {getattr(self, name)}")
        if not 1 <= self.factoid_candidates <= 5:
            raise ConfigError(f"factoid_candidates: BioASQ accepts 1 to 5, got {self.factoid_candidates}")
        if self.bootstrap_resamples < 0:
            raise ConfigError(f"bootstrap_resamples: must be >= 0 (0: no intervals), got {self.bootstrap_resamples}")
        if self.lm_max_texts is not None and self.lm_max_texts <= 0:
            raise ConfigError(f"lm_max_texts: must be positive or null, got {self.lm_max_texts}")
