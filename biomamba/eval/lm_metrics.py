"""Language-model metrics that mean something: cross-entropy, perplexity, bits per byte.

* Only real targets are scored: every position whose label is ``-100``
  (padding, prompt tokens) is left out of both the loss sum and the token
  count.  Averaging over padded positions -- as the seed did -- mixes in
  predictions nobody asked for and makes the number depend on batch shapes.
* Cross-entropy (nats per token) and perplexity = exp(cross-entropy) depend
  on the tokenizer: a tokenizer with longer tokens has fewer, harder
  predictions.  They compare models that share a tokenizer only.
* Bits per byte = total nats / (ln 2 x total UTF-8 bytes of the text) measures
  the same thing per unit of *text*, so it compares models with different
  tokenizers (e.g. our biomedical SentencePiece model vs. a GPT-NeoX-tokenized
  general-domain Mamba).

A text is scored the way pretraining sees a document: preceded by EOS (the
previous document's end) and followed by one EOS, which is scored too.  Texts
longer than the window are scored in windows of ``max_length`` tokens; with a
``stride`` smaller than the window, each window re-reads the previous
``max_length - stride`` tokens as context and scores only new targets, so
every target is scored exactly once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F

from biomamba.eval.lm_stats import LMStats
from biomamba.eval.prompting import IGNORE_INDEX, TokenizerLike

LogitsFn = Callable[[torch.Tensor], torch.Tensor]


def nll_sum(logits: torch.Tensor, labels: torch.Tensor) -> tuple[float, int]:
    """(summed negative log-likelihood in nats, number of scored targets); -100 is never scored.

    ``labels`` are next-token targets aligned with ``logits`` (the loader contract).
    """
    if logits.shape[:-1] != labels.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and labels {tuple(labels.shape)} do not align")
    loss = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum"
    )
    return float(loss), int((labels != IGNORE_INDEX).sum())


def text_windows(
    tokens: list[int], eos_id: int, max_length: int, stride: int | None = None
) -> Iterator[tuple[list[int], list[int]]]:
    """(input_ids, labels) windows scoring ``tokens`` + EOS once each, preceded by EOS as context."""
    stride = stride or max_length
    if not 0 < stride <= max_length:
        raise ValueError(f"stride must be in 1..max_length ({max_length}), got {stride}")
    seq = [eos_id] + tokens + [eos_id]
    inputs, targets = seq[:-1], seq[1:]
    for begin in range(0, len(targets), stride):
        end = min(begin + stride, len(targets))
        ctx = max(0, end - max_length)
        labels = [IGNORE_INDEX] * (begin - ctx) + targets[begin:end]
        yield inputs[ctx:end], labels


def _batches(windows: list[tuple[list[int], list[int]]], batch_size: int, pad_id: int):
    for i in range(0, len(windows), batch_size):
        chunk = windows[i : i + batch_size]
        width = max(len(x) for x, _ in chunk)
        ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        labels = torch.full((len(chunk), width), IGNORE_INDEX, dtype=torch.long)
        for row, (x, y) in enumerate(chunk):
            ids[row, : len(x)] = torch.tensor(x)
            labels[row, : len(y)] = torch.tensor(y)
        yield i, ids, labels


def _row_nll(logits: torch.Tensor, labels: torch.Tensor) -> tuple[list[float], list[int]]:
    """Per-row (nll in nats, scored targets): each window's share, summed per text for the bootstrap."""
    if logits.shape[:-1] != labels.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and labels {tuple(labels.shape)} do not align")
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=IGNORE_INDEX,
                           reduction="none").view(labels.shape)
    return loss.sum(dim=1).tolist(), (labels != IGNORE_INDEX).sum(dim=1).tolist()


@torch.no_grad()
def evaluate_texts(
    logits_fn: LogitsFn,
    tokenizer: TokenizerLike,
    texts: list[str],
    *,
    max_length: int = 2048,
    stride: int | None = None,
    batch_size: int = 4,
) -> dict:
    """Score ``texts`` with a model -> {tokens, bytes, nll_sum, cross_entropy, perplexity, bits_per_byte, per_text}.

    ``per_text`` holds per-document lists ``nll``, ``tokens`` and ``bytes`` (empty texts left out), which
    the report resamples for bootstrap intervals.

    ``logits_fn`` maps input_ids[B, L] to logits[B, L, V] (e.g.
    :meth:`CausalLMScorer.device_logits <biomamba.eval.scoring.CausalLMScorer.device_logits>`);
    the loss is computed where the logits are.  Rows are right-padded; padded
    positions carry label -100.
    """
    stats = LMStats()
    windows, owner, per_bytes = [], [], []
    for text in texts:
        if not text.strip():
            continue
        per_bytes.append(len(text.encode("utf-8")))
        stats.add(0.0, 0, per_bytes[-1])
        new = list(text_windows(tokenizer.encode(text), tokenizer.eos_id, max_length, stride))
        windows += new
        owner += [len(per_bytes) - 1] * len(new)
    per_nll, per_tokens = [0.0] * len(per_bytes), [0] * len(per_bytes)
    pad = tokenizer.pad_id if tokenizer.pad_id is not None else tokenizer.eos_id
    for first, ids, labels in _batches(windows, batch_size, pad):
        logits = logits_fn(ids)
        logits = getattr(logits, "logits", logits)
        labels = labels.to(logits.device)
        for row, (row_nll, row_n) in enumerate(zip(*_row_nll(logits, labels))):
            per_nll[owner[first + row]] += row_nll
            per_tokens[owner[first + row]] += row_n
            stats.add(row_nll, row_n, 0)
    return {**stats.to_dict(), "per_text": {"nll": per_nll, "tokens": per_tokens, "bytes": per_bytes}}


def bioasq_texts(questions) -> dict[str, list[str]]:
    """Distinct snippet texts and ideal answers of BioASQ questions, the two LM test sets."""
    snippets = list(dict.fromkeys(s.text.strip() for q in questions for s in q.snippets if s.text.strip()))
    ideals = list(dict.fromkeys(a for q in questions for a in q.ideal_answers))
    return {"bioasq_snippets": snippets, "bioasq_ideal_answers": ideals}


def read_jsonl_texts(path: str | os.PathLike, field: str = "text", limit: int | None = None) -> list[str]:
    """Texts from a JSONL file of records (the record contract's ``text`` by default)."""
    texts = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            record = json.loads(line)
            if not isinstance(record.get(field), str):
                raise ValueError(f"{path}:{lineno}: record has no string field {field!r}")
            texts.append(record[field])
            if limit is not None and len(texts) >= limit:
                break
    return texts
