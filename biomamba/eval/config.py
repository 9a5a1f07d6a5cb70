"""Configuration of an evaluation run (``launcher/evaluate.py`` and the fine-tuning dev check).

The report's command-line flags are generated from these fields (:func:`biomamba.config.cli.add_flags`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from biomamba.config import Config, ConfigError
from biomamba.config.cli import setting
from biomamba.eval.decoding import DecodingConfig

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

    tasks: list[str] = setting(default_factory=lambda: ["bioasq"], choices=EVAL_TASKS)
    bioasq_gold: str | None = setting(None, help="BioASQ golden file: answered and scored; its snippets and ideal "
                                                 "answers are also LM test sets")
    submission_out: str | None = None
    pubmedqa_data: str | None = setting(None, help="PubMedQA questions (ori_pqal.json)")
    pubmedqa_ground_truth: str | None = setting(None, help="PubMedQA labels of the test PMIDs "
                                                           "(test_ground_truth.json)")
    lm_texts: dict[str, str] = field(default_factory=dict)
    lm_max_texts: int | None = setting(None, help="texts per LM set, the first in file order (0: all)")
    lm_max_length: int = setting(2048, help="tokens per scoring window")
    lm_batch_size: int = setting(4)
    decoding: DecodingConfig = field(default_factory=DecodingConfig)
    missing: Literal["zero", "skip"] = setting("zero", help="BioASQ questions missing from a submission: score 0 "
                                                            "(default) or leave out of the averages as the official "
                                                            "jar does (-e 9)")
    rouge_stemmer: bool = setting(False, flag="--stemmer", help="Porter-stem words before ROUGE")
    # 95 % bootstrap intervals in the comparison report: resamples of the questions / documents, and their seed.
    bootstrap_resamples: int = setting(1000, help="resamples for the 95%% bootstrap intervals and paired "
                                                  "differences (0: none)")
    bootstrap_seed: int = setting(0)

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
        for name in ("lm_max_length", "lm_batch_size"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name}: must be positive, got {getattr(self, name)}")
        if self.decoding.max_prompt_tokens is None:
            raise ConfigError("decoding.max_prompt_tokens: must be set for an evaluation, e.g. 1024")
        if self.bootstrap_resamples < 0:
            raise ConfigError(f"bootstrap_resamples: must be >= 0 (0: no intervals), got {self.bootstrap_resamples}")
        if self.lm_max_texts is not None and self.lm_max_texts <= 0:
            raise ConfigError(f"lm_max_texts: must be positive or null, got {self.lm_max_texts}")
