"""Micro-batches of answer-masked examples for the training engine: deterministic, DP-sharded, resumable.

Epoch ``e`` visits the examples in a permutation seeded by ``(seed, e)`` (identity without
shuffling), cut into global batches of ``micro_batch × dp_size`` examples; data-parallel rank
``r`` takes the ``r``-th micro-batch of each. The incomplete last global batch of an epoch is
left out (a different one each epoch when shuffled), so every rank yields the same number of
micro-batches -- ranks stay in lockstep -- and no example is padded in twice.

The position (epoch, global batch) is the whole state: :meth:`state_dict` /
:meth:`load_state_dict` resume exactly. A fingerprint of the examples and the batching
refuses a state from other data unless ``allow_mismatch`` (then the current epoch restarts,
e.g. after a change of the data-parallel size).
"""

from __future__ import annotations

import hashlib
from array import array

import torch

from biomamba.eval.finetune_examples import collate_examples
from biomamba.eval.prompting import TrainingExample


def examples_fingerprint(examples: list[TrainingExample]) -> str:
    h = hashlib.sha256()
    for e in examples:
        h.update(array("q", [len(e.input_ids), e.answer_bytes, *e.input_ids, *e.labels]).tobytes())
    return h.hexdigest()


class ExampleBatches:
    """Iterable of collated micro-batches (``input_ids``, ``labels``, ``bytes``) over epochs."""

    def __init__(self, examples: list[TrainingExample], micro_batch: int, dp_rank: int, dp_size: int, pad_id: int,
                 seed: int, shuffle: bool = True, epochs: int | None = None):
        if len(examples) < micro_batch * dp_size:
            raise ValueError(f"{len(examples)} training examples cannot fill one global batch of "
                             f"{micro_batch} × {dp_size} data-parallel ranks; lower data.micro_batch_size")
        self.examples, self.micro_batch, self.pad_id = examples, micro_batch, pad_id
        self.dp_rank, self.dp_size = dp_rank, dp_size
        self.seed, self.shuffle, self.epochs = seed, shuffle, epochs
        self.batches_per_epoch = len(examples) // (micro_batch * dp_size)
        self.fingerprint = {"examples": examples_fingerprint(examples), "micro_batch": micro_batch,
                            "dp_size": dp_size, "seed": seed, "shuffle": shuffle}
        self.epoch, self.batch = 0, 0  # the next micro-batch to hand out

    def order(self, epoch: int) -> list[int]:
        if not self.shuffle:
            return list(range(len(self.examples)))
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(len(self.examples), generator=g).tolist()

    def __iter__(self):
        order_epoch, order = None, []
        while self.epochs is None or self.epoch < self.epochs:
            if order_epoch != self.epoch:
                order_epoch, order = self.epoch, self.order(self.epoch)
            start = (self.batch * self.dp_size + self.dp_rank) * self.micro_batch
            chosen = [self.examples[i] for i in order[start : start + self.micro_batch]]
            # Advance before yielding: a checkpoint taken after this batch resumes with the next one.
            self.batch += 1
            if self.batch == self.batches_per_epoch:
                self.epoch, self.batch = self.epoch + 1, 0
            yield collate_examples(chosen, self.pad_id)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "batch": self.batch, "fingerprint": self.fingerprint}

    def load_state_dict(self, state: dict | list[dict], allow_mismatch: bool = False) -> None:
        if isinstance(state, list):  # every rank's state: the engine resumes under another DP size,
            state, allow_mismatch = state[0], True  # which changes the batching: restart the epoch
        if state.get("fingerprint") != self.fingerprint:
            if not allow_mismatch:
                raise ValueError(
                    "the fine-tuning examples or their batching changed since this checkpoint (training file, "
                    "tokenizer, prompt settings, data.micro_batch_size, seed or data-parallel size); resume with "
                    "the same settings, or set checkpoint.allow_loader_mismatch=true to restart the current epoch")
            self.epoch, self.batch = int(state["epoch"]), 0
            return
        self.epoch, self.batch = int(state["epoch"]), int(state["batch"])
