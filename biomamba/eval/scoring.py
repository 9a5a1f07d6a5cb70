"""The small model interface evaluation needs, and one implementation for any causal LM.

Everything in :mod:`biomamba.eval` talks to a model through
:class:`ScoringModel`: next-token log-probabilities, the log-likelihood of a
continuation, and greedy generation.  :class:`CausalLMScorer` provides all
three from a single ``logits_fn(input_ids[B, L]) -> logits[B, L, V]`` (plus an
optional fast ``generate_fn``), so our :class:`~biomamba.model.MambaLM`, a
Hugging Face ``AutoModelForCausalLM`` or a hand-built test model plug in the
same way (see :mod:`biomamba.eval.adapters`).

Log-probabilities are taken over the first ``vocab_size`` logits only: models
pad their vocabulary to a multiple of 8 and those extra slots are never
trained, so they must not take probability mass (generation masks them too).
"""

from __future__ import annotations

from typing import Protocol
from collections.abc import Callable

import torch

LogitsFn = Callable[[torch.Tensor], torch.Tensor]
# (input_ids[1, L], max_new_tokens, eos_id) -> ids[1, L + n] (prompt included), greedy.
GenerateFn = Callable[[torch.Tensor, int, "int | None"], torch.Tensor]


class ScoringModel(Protocol):
    def next_token_logprobs(self, prompt_ids: list[int]) -> torch.Tensor: ...

    def logprobs(self, prompt_ids: list[int], continuations: list[list[int]]) -> list[float]: ...

    def logprob(self, prompt_ids: list[int], continuation_ids: list[int]) -> float: ...

    def generate(self, prompt_ids: list[int], max_new_tokens: int, eos_id: int | None) -> list[int]: ...


class CausalLMScorer:
    """:class:`ScoringModel` over a logits function; inference only (no gradients)."""

    def __init__(
        self,
        logits_fn: LogitsFn,
        *,
        vocab_size: int | None = None,
        device: torch.device | str = "cpu",
        generate_fn: GenerateFn | None = None,
        pad_id: int = 0,
        name: str = "model",
    ):
        self._logits_fn = logits_fn
        self.vocab_size = vocab_size
        self.device = torch.device(device)
        self._generate_fn = generate_fn
        self.pad_id = pad_id
        self.name = name

    @torch.no_grad()
    def device_logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        """input_ids[B, L] -> logits[B, L, vocab_size], left on the model's device and dtype."""
        out = self._logits_fn(input_ids.to(self.device))
        out = getattr(out, "logits", out)
        if self.vocab_size is not None:
            if out.shape[-1] < self.vocab_size:
                raise ValueError(f"model gives {out.shape[-1]} logits but vocab_size is {self.vocab_size}")
            out = out[..., : self.vocab_size]
        return out

    def logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        """input_ids[B, L] -> float32 logits[B, L, vocab_size] on the CPU."""
        return self.device_logits(input_ids).float().cpu()

    def next_token_logprobs(self, prompt_ids: list[int]) -> torch.Tensor:
        if not prompt_ids:
            raise ValueError("the prompt must hold at least one token")
        last = self.device_logits(torch.tensor([prompt_ids], dtype=torch.long))[0, -1]
        return torch.log_softmax(last.float(), dim=-1).cpu()

    def logprobs(self, prompt_ids: list[int], continuations: list[list[int]]) -> list[float]:
        """Sum of log p(continuation token | everything before it), for each continuation.

        All continuations go through the model in one right-padded batch; a
        causal model never looks right, so padding cannot change a score.
        """
        if not prompt_ids:
            raise ValueError("the prompt must hold at least one token")
        if any(not c for c in continuations):
            raise ValueError("every continuation must hold at least one token")
        seqs = [prompt_ids + c for c in continuations]
        width = max(len(s) for s in seqs) - 1
        batch = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        for i, s in enumerate(seqs):
            batch[i, : len(s) - 1] = torch.tensor(s[:-1])
        start = len(prompt_ids) - 1
        # Only the positions that predict continuation tokens leave the device.
        logp = torch.log_softmax(self.device_logits(batch)[:, start:].float(), dim=-1).cpu()
        return [float(logp[i, torch.arange(len(c)), torch.tensor(c)].sum()) for i, c in enumerate(continuations)]

    def logprob(self, prompt_ids: list[int], continuation_ids: list[int]) -> float:
        return self.logprobs(prompt_ids, [continuation_ids])[0]

    @torch.no_grad()
    def generate(self, prompt_ids: list[int], max_new_tokens: int, eos_id: int | None) -> list[int]:
        """Greedy continuation: the new tokens, stopping before EOS (which is not returned)."""
        if max_new_tokens <= 0:
            return []
        if self._generate_fn is not None:
            out = self._generate_fn(
                torch.tensor([prompt_ids], dtype=torch.long, device=self.device), max_new_tokens, eos_id
            )
            new = out[0, len(prompt_ids) :].tolist()
        else:
            new = self._greedy(prompt_ids, max_new_tokens, eos_id)
        if eos_id is not None and eos_id in new:
            new = new[: new.index(eos_id)]
        return new

    def _greedy(self, prompt_ids: list[int], max_new_tokens: int, eos_id: int | None) -> list[int]:
        """Generation for models without their own: one full forward per new token."""
        ids = list(prompt_ids)
        for _ in range(max_new_tokens):
            nxt = int(self.device_logits(torch.tensor([ids], dtype=torch.long))[0, -1].argmax())
            ids.append(nxt)
            if nxt == eos_id:
                break
        return ids[len(prompt_ids) :]
