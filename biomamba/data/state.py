"""Loader state layout and the fingerprint that guards a resume.

The fingerprint is a flat dict of everything that decides which tokens land in
which batch: the manifests' content (shard names, hashes and counts, EOS,
dtype, tokenizer hash — not their paths, so moved data still resumes), the
mixture, ``seq_len``, ``micro_batch_size``, ``seed``, shuffling, the stream
layout (``streams_per_rank``, ``dp_size``) and the DP rank.  Keeping it flat
lets a refused resume say exactly which entries changed.
"""

from __future__ import annotations

import hashlib
import json

STATE_FORMAT = "biomamba-loader-state/1"


class LoaderStateError(ValueError):
    """A saved loader state cannot be resumed exactly under this configuration."""


def manifest_digest(manifest: dict) -> str:
    """sha256 over the parts of a manifest that define the token stream."""
    core = {
        "dtype": manifest["dtype"],
        "eos_id": manifest["eos_id"],
        "tokenizer": (manifest.get("tokenizer") or {}).get("hash"),
        "shards": [[e["name"], e["sha256"], e["documents"], e["tokens"], e["bytes"]] for e in manifest["shards"]],
    }
    return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()[:16]


def fingerprint(plan) -> dict:
    """Flat, JSON-serialisable fingerprint of a :class:`~biomamba.data.stream.TrainPlan`."""
    fp = {
        "seq_len": plan.seq_len,
        "micro_batch_size": plan.batch_size,
        "seed": plan.seed,
        "shuffle": plan.shuffle,
        "shuffle_buffer": plan.shuffle_buffer,
        "streams_per_rank": plan.streams_per_rank,
        "dp_size": plan.dp_size,
        "dp_rank": plan.dp_rank,
        "datasets": [src.name for src in plan.sources],
    }
    for src, p in zip(plan.sources, plan.probs):
        m = src.reader.manifest
        fp[f"datasets.{src.name}.weight"] = round(float(p), 12)
        summary = f"{len(m['shards'])} shards, {m['totals']['tokens']} tokens"
        fp[f"datasets.{src.name}.manifest"] = f"{manifest_digest(m)} ({summary})"
    return fp


HINTS = {
    "streams_per_rank": "derived from num_workers when data.streams_per_rank is unset; "
    "set data.streams_per_rank to the saved value and num_workers to a divisor of it",
    "dp_rank": "each DP rank must load the state it saved",
    "dp_size": "the stream layout depends on the number of DP ranks",
}


def describe_changes(saved: dict, current: dict) -> list[str]:
    """``key: saved -> current`` for every entry that differs (with a hint where one helps)."""
    out = []
    for key in sorted(set(saved) | set(current)):
        a, b = saved.get(key, "<absent>"), current.get(key, "<absent>")
        if a != b:
            out.append(f"{key}: {a} -> {b}" + (f" ({HINTS[key]})" if key in HINTS else ""))
    return out


def check_state(state: dict) -> None:
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        got = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise LoaderStateError(f"not a loader state (format {got!r}, expected {STATE_FORMAT!r})")
    for key in ("fingerprint", "batches", "streams"):
        if key not in state:
            raise LoaderStateError(f"loader state lacks {key!r}; it was not written by TokenLoader.state_dict()")
