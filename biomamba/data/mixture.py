"""Weighted mixture of datasets, decided per window.

Each row (window) of a micro-batch is drawn from dataset ``d`` with probability
``weight_d / sum(weights)``, so weights are shares of *training tokens*, not of
documents (a 0.3 share of PMC full text means 30% of windows, however long its
articles).  Each dataset is packed separately, so a window never mixes
datasets, and each dataset runs through its own epochs: a small dataset with a
large weight is simply repeated more often.

The choice for window ``n`` of logical stream ``g`` is a pure function of
``(seed, g, n)``: resuming needs no RNG state, and it does not depend on how
windows are grouped into micro-batches or spread over data-parallel ranks.
"""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

from .order import MIX, rng


def normalised(weights: Sequence[float]) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    return w / w.sum()


# Windows per random draw: one generator per block of a stream's windows instead of per window
# (seeding a PCG64 costs ~20 us, more than packing a short window).
MIX_BLOCK = 256


@functools.lru_cache(maxsize=512)  # a stream asks for its current block once per window
def _block(seed: int, stream: int, block: int, probs: tuple) -> np.ndarray:
    return rng(seed, MIX, stream, block).choice(len(probs), size=MIX_BLOCK, p=np.asarray(probs))


def window_datasets(seed: int, stream: int, first: int, count: int, probs: np.ndarray) -> np.ndarray:
    """Dataset index of windows ``first .. first + count - 1`` of logical stream ``stream``."""
    if len(probs) == 1:
        return np.zeros(count, dtype=np.int64)
    out = []
    n, end = first, first + count
    while n < end:
        block, off = divmod(n, MIX_BLOCK)
        take = min(end - n, MIX_BLOCK - off)
        out.append(_block(seed, stream, block, tuple(probs.tolist()))[off : off + take])
        n += take
    return np.concatenate(out)
