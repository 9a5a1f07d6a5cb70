"""Weighted mixture of datasets, decided per window.

Each row (window) of a micro-batch is drawn from dataset ``d`` with probability
``weight_d / sum(weights)``, so weights are shares of *training tokens*, not of
documents (a 0.3 share of PMC full text means 30% of windows, however long its
articles).  Each dataset is packed separately, so a window never mixes
datasets, and each dataset runs through its own epochs: a small dataset with a
large weight is simply repeated more often.

The choice for batch ``n`` of stream ``g`` is a pure function of
``(seed, g, n)``: resuming needs no RNG state.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .order import MIX, rng


def normalised(weights: Sequence[float]) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    return w / w.sum()


def batch_rows(seed: int, stream: int, batch: int, rows: int, probs: np.ndarray) -> np.ndarray:
    """Dataset index of each of the ``rows`` windows of batch ``batch`` of stream ``stream``."""
    if len(probs) == 1:
        return np.zeros(rows, dtype=np.int64)
    return rng(seed, MIX, stream, batch).choice(len(probs), size=rows, p=probs)
