"""Small helpers for the loader tests."""

from __future__ import annotations

import itertools
import json

import torch


def take(loader, n: int) -> list[dict]:
    return list(itertools.islice(iter(loader), n))


def same_batches(a: list[dict], b: list[dict]) -> bool:
    return len(a) == len(b) and all(
        x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x) for x, y in zip(a, b)
    )


def json_roundtrip(state: dict) -> dict:
    return json.loads(json.dumps(state))
