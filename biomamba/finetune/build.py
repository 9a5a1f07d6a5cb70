"""From a :class:`FinetuneConfig` to what the engine's loop takes: tokenizer, example batches, dev evaluator."""

from __future__ import annotations

from dataclasses import dataclass

from biomamba.config import ConfigError
from biomamba.eval.decoding import DecodingConfig
from biomamba.eval.bioasq.data import BioASQFormatError, Question, load_bioasq
from biomamba.eval.finetune_examples import build_bioasq_examples
from biomamba.eval.prompting import TrainingExample

from .batches import ExampleBatches
from .config import FinetuneConfig
from .dev_eval import DevEvaluator
from .dev_split import DevSplit, carve_dev


def resolve_tokenizer(cfg: FinetuneConfig):
    """The model's own tokenizer; sets ``cfg.tokenizer`` so checkpoints record it.

    Starting from a pretrained model, ``tokenizer`` defaults to the one stored with it; an
    explicit different one is refused later by ``init.vocab_policy=error`` (a fine-tune
    must read ids the way the model learned them).
    """
    from biomamba.tokenizer import TokenizerError, load_tokenizer

    if not cfg.tokenizer:
        from biomamba.convert.consolidate import ConversionError
        from biomamba.eval.model_dirs import stored_tokenizer_path

        try:
            found = stored_tokenizer_path(cfg.init.from_pretrained)
        except ConversionError as exc:
            raise ConfigError(f"init.from_pretrained: {exc}") from exc
        if found is None:
            raise ConfigError(f"tokenizer: {cfg.init.from_pretrained} stores no tokenizer; set tokenizer=PATH to "
                              "the tokenizer that model was trained with")
        cfg.tokenizer = str(found)
    try:
        tokenizer = load_tokenizer(cfg.tokenizer)
    except (TokenizerError, OSError) as exc:
        raise ConfigError(f"tokenizer: {exc}") from exc
    if not cfg.init.from_pretrained and tokenizer.vocab_size > cfg.model.vocab_size:
        raise ConfigError(f"model.vocab_size={cfg.model.vocab_size} < tokenizer vocabulary {tokenizer.vocab_size}; "
                          f"set model.vocab_size={tokenizer.vocab_size}")
    return tokenizer


def _load(path: str, key: str, verbose: bool, require_answers: bool = True) -> list[Question]:
    try:
        questions, report = load_bioasq(path, require_answers=require_answers)
    except (BioASQFormatError, OSError) as exc:
        raise ConfigError(f"{key}: {exc}") from exc
    if verbose and not report.ok:
        print(f"[biomamba] {report.summary()}", flush=True)  # malformed questions, by id and reason
    return questions


def split_questions(cfg: FinetuneConfig, verbose: bool = True) -> DevSplit:
    ft = cfg.finetune
    exclude = [q for i, path in enumerate(ft.exclude_json)
               for q in _load(path, f"finetune.exclude_json[{i}]", verbose, require_answers=False)]
    split = carve_dev(_load(ft.train_json, "finetune.train_json", verbose), ft.dev_fraction, ft.dev_salt, exclude)
    if ft.dev_fraction > 0 and not split.dev:
        raise ConfigError(f"finetune.dev_fraction={ft.dev_fraction}: no question fell into the dev split; raise it")
    if ft.dev_max_questions is not None:
        split.dev = split.dev[: ft.dev_max_questions]
    return split


def examples_for(cfg: FinetuneConfig, questions: list[Question], tokenizer, what: str,
                 verbose: bool = True) -> list[TrainingExample]:
    ft = cfg.finetune
    examples, report = build_bioasq_examples(questions, tokenizer, ft.max_length, tuple(ft.answer_kinds),
                                             ft.max_answer_tokens, ft.decoding.repeat_question)
    if verbose and not report.ok:
        print(f"[biomamba] {what}: {report.summary()}", flush=True)
    return examples


def decoding_settings(cfg: FinetuneConfig) -> DecodingConfig:
    """``finetune.decoding`` with its prompt budget resolved (null: what ``finetune.max_length`` leaves)."""
    return cfg.finetune.decoding.with_prompt_budget(cfg.finetune.max_length)


def _check_dev_has(cfg: FinetuneConfig, dev: list[Question]) -> None:
    metric = cfg.eval.select_metric or ""
    for qtype in ("yesno", "factoid", "list"):
        if metric.startswith(f"dev_{qtype}_") and not any(q.type == qtype for q in dev):
            raise ConfigError(f"eval.select_metric={metric}: the dev split has no {qtype} questions; "
                              "select on another metric (e.g. dev_loss with eval.select_mode=min)")


@dataclass
class FinetuneData:
    train: ExampleBatches
    dev_eval: DevEvaluator | None
    split: DevSplit


def build_finetune_data(cfg: FinetuneConfig, tokenizer, dims) -> FinetuneData:
    """Examples of the training questions (DP-sharded batches) and the dev evaluator (None without dev)."""
    split = split_questions(cfg, dims.is_main)
    _check_dev_has(cfg, split.dev)
    train_examples = examples_for(cfg, split.train, tokenizer, "training examples", dims.is_main)
    pad = tokenizer.pad_id if tokenizer.pad_id is not None else tokenizer.eos_id
    try:
        train = ExampleBatches(train_examples, cfg.data.micro_batch_size, dims.dp_rank, dims.dp, pad, cfg.seed,
                               cfg.finetune.shuffle, cfg.finetune.epochs)
    except ValueError as exc:
        raise ConfigError(f"data.micro_batch_size: {exc}") from exc
    dev = None
    if split.dev:
        dev = DevEvaluator(split.dev, examples_for(cfg, split.dev, tokenizer, "dev examples", dims.is_main), tokenizer,
                           decoding_settings(cfg), cfg.data.micro_batch_size, dims=dims)
    if dims.is_main:
        print(f"[biomamba] fine-tuning data: {split.summary()}; {len(train_examples)} training examples "
              f"({train.batches_per_epoch} global batches per epoch)", flush=True)
    return FinetuneData(train, dev, split)
