"""How a model answers: the one :class:`DecodingConfig` of evaluation, fine-tuning dev checks and ``bioasq answer``.

``EvalConfig.decoding`` and ``FinetuneSection.decoding`` hold it; :mod:`biomamba.eval.answering` takes it;
the ``--max-prompt-tokens`` … ``--repeat-question`` flags of ``launcher/evaluate.py`` and
``python -m biomamba.eval.bioasq answer`` are generated from it (:func:`biomamba.config.cli.add_flags`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from biomamba.config import Config, ConfigError
from biomamba.config.cli import setting
from biomamba.eval.bioasq.submission import MAX_FACTOID_CANDIDATES


@dataclass
class DecodingConfig(Config):
    # Prompt budget in tokens (snippets are cut to fit). null only in a fine-tuning config: there it is
    # finetune.max_length - decoding.max_exact_tokens, the budget the training prompts had.
    max_prompt_tokens: Optional[int] = setting(1024)
    max_exact_tokens: int = setting(32)  # tokens generated for a factoid name or a list answer
    max_ideal_tokens: int = setting(200)  # tokens generated for an ideal answer
    factoid_candidates: int = setting(MAX_FACTOID_CANDIDATES, choices=range(1, MAX_FACTOID_CANDIDATES + 1),
                                      metavar=f"1..{MAX_FACTOID_CANDIDATES}")
    repeat_question: bool = setting(True, action="optional",
                                    help="restate the question after the context (use the setting the model was "
                                         "fine-tuned with)")
    # False skips generating ideal answers: much faster (e.g. dev-set checks on exact answers); ROUGE then scores 0.
    ideal_answers: bool = setting(True, help="skip ideal answers (faster; no ROUGE scores)")

    def check(self) -> None:
        for name in ("max_prompt_tokens", "max_exact_tokens", "max_ideal_tokens"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"{name}: must be positive, got {value}")
        if not 1 <= self.factoid_candidates <= MAX_FACTOID_CANDIDATES:
            raise ConfigError(f"factoid_candidates: BioASQ accepts 1 to {MAX_FACTOID_CANDIDATES}, "
                              f"got {self.factoid_candidates}")

    def with_prompt_budget(self, max_length: int) -> "DecodingConfig":
        """This config with ``max_prompt_tokens`` set, when null, to what ``max_length`` leaves after the answer."""
        if self.max_prompt_tokens is not None:
            return self
        return self.replace(max_prompt_tokens=max_length - self.max_exact_tokens)
