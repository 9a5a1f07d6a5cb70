"""Dev-split evaluation of the model being fine-tuned: the engine's ``dev_eval`` hook.

Called on every rank with the live (possibly tensor-parallel, ZeRO-sharded) module. It
reports the answer-token loss of the dev examples (``dev_loss``, ``dev_ppl``, ``dev_bpb``)
and the official BioASQ scores of the answers the model gives (``dev_yesno_accuracy``, …,
only for question types the dev split has), decoded exactly as ``launcher/evaluate.py``
does (:mod:`biomamba.eval.answering`).

Parallel layouts:

* tensor parallelism: logits are gathered over the TP group, so every TP rank decodes the
  same full-vocabulary answer in lockstep;
* ZeRO-0/1/2: the questions and examples are split over data-parallel ranks and the results
  gathered (each rank holds the full weights);
* ZeRO-3: every forward gathers parameters collectively, and generation lengths differ per
  question, so every rank evaluates the whole dev split, identically.

Evaluation runs in the parameters' dtype (fp32 master weights), without autocast: it
decides which checkpoint is kept, so it is computed as precisely as it cheaply can be.
"""

from __future__ import annotations

import time

import torch
import torch.distributed as dist

from biomamba.eval.adapters import recurrent_greedy
from biomamba.eval.answering import answer_bioasq
from biomamba.eval.bioasq.data import Question
from biomamba.eval.bioasq.scorer import score_phase_b
from biomamba.eval.bioasq.submission import answer_to_json
from biomamba.eval.decoding import DecodingConfig
from biomamba.eval.finetune_examples import collate_examples
from biomamba.eval.lm_stats import LMStats
from biomamba.eval.prompting import TokenizerLike, TrainingExample
from biomamba.eval.report.scores import bioasq_scores_that_apply
from biomamba.eval.scoring import CausalLMScorer
from biomamba.parallel import ParallelDims
from biomamba.train.distributed import collective_cpu
from biomamba.train.loss import token_nll


class DevEvaluator:
    def __init__(self, questions: list[Question], examples: list[TrainingExample], tokenizer: TokenizerLike,
                 settings: DecodingConfig, micro_batch: int, *, dims: ParallelDims = ParallelDims()):
        self.questions, self.examples, self.tokenizer, self.settings = questions, examples, tokenizer, settings
        self.micro_batch, self.dims, self.dp_group = micro_batch, dims, dims.dp_group
        self.dp = (dims.dp_rank, dims.dp)
        self.pad_id = tokenizer.pad_id if tokenizer.pad_id is not None else tokenizer.eos_id

    # ----- pieces -----
    @staticmethod
    def _mine(items: list, share: tuple[int, int]) -> list:
        rank, size = share
        return items[rank::size]

    def scorer(self, model) -> CausalLMScorer:
        device = next(model.parameters()).device

        def logits(ids: torch.Tensor) -> torch.Tensor:
            out = model(ids)
            return _gather_vocabulary(out, self.dims) if self.dims.tp > 1 else out

        def recurrent(ids: torch.Tensor, max_new_tokens: int, eos_id: int | None) -> torch.Tensor:
            return recurrent_greedy(model, ids, max_new_tokens, eos_id, self.tokenizer.vocab_size)

        # The model's own O(1)-per-token generation needs whole, local weights; otherwise one full
        # (collective) forward per new token through ``logits``.
        fast = recurrent if self.dims.tp == 1 and not _zero3_partitioned(model) else None
        return CausalLMScorer(logits, vocab_size=self.tokenizer.vocab_size, device=device, generate_fn=fast,
                              pad_id=self.pad_id, name="dev")

    @torch.no_grad()
    def answer_loss(self, model, share: tuple[int, int]) -> LMStats:
        """nll, tokens and bytes summed over this rank's share of the dev examples."""
        device = next(model.parameters()).device
        stats = LMStats()
        mine = self._mine(self.examples, share)
        for i in range(0, len(mine), self.micro_batch):
            batch = collate_examples(mine[i : i + self.micro_batch], self.pad_id)
            nll, mask = token_nll(model(batch["input_ids"].to(device)), batch["labels"].to(device), self.dims)
            stats.add_batch(nll, mask, batch["bytes"])
        return stats

    def _gather(self, stats: LMStats, answers: list[dict], share: tuple[int, int]):
        """Sum the loss totals and concatenate the answers of all data-parallel shares."""
        if share[1] == 1 or not dist.is_initialized():
            return stats, answers
        stats = stats.reduced(lambda t: collective_cpu(t, group=self.dp_group))
        parts: list = [None] * share[1]
        dist.all_gather_object(parts, answers, group=self.dp_group)
        return stats, [a for part in parts for a in part]

    # ----- the hook -----
    def __call__(self, model) -> dict:
        t0 = time.perf_counter()
        share = (0, 1) if _zero3_partitioned(model) else self.dp  # (rank, size) of the work split
        was_training = model.training
        model.eval()
        try:
            stats = self.answer_loss(model, share)
            answers = answer_bioasq(self.scorer(model), self.tokenizer, self._mine(self.questions, share),
                                    self.settings)
        finally:
            model.train(was_training)
        stats, submitted = self._gather(stats, [answer_to_json(a) for a in answers], share)
        scored = score_phase_b(self.questions, {a["id"]: a for a in submitted})
        applicable = bioasq_scores_that_apply(scored.scores, scored.counts, self.settings.ideal_answers)
        out = {f"dev_{k}": v for k, v in applicable.items()}
        if stats.tokens:
            out.update(stats.short("dev"))
        out.update(dev_questions=len(self.questions), dev_answer_tokens=stats.tokens,
                   dev_eval_s=time.perf_counter() - t0)
        return out


def _zero3_partitioned(model) -> bool:
    """DeepSpeed ZeRO-3 leaves each parameter as a placeholder outside of forward."""
    return any(hasattr(p, "ds_id") for p in model.parameters())


def _gather_vocabulary(local: torch.Tensor, dims: ParallelDims) -> torch.Tensor:
    """Vocabulary-parallel logits (this rank's slice) -> the full logits, on every TP rank (any backend)."""
    parts = [torch.empty_like(local) for _ in range(dims.tp)]
    dist.all_gather(parts, local.contiguous(), group=dims.tp_group)
    return torch.cat(parts, dim=-1)
