"""Loader state layout and the fingerprint that guards a resume.

The fingerprint is a flat dict of everything that decides which tokens land in
which batch: the manifests' content (shard names, hashes and counts, EOS,
dtype, tokenizer hash — not their paths, so moved data still resumes), the
mixture, ``seq_len``, ``seed``, shuffling and the number of logical streams.
The DP layout and the micro-batch size are not in it: they only decide which
part of the global order a rank delivers (see :mod:`.layout`).  Keeping it flat
lets a refused resume say exactly which entries changed.
"""

from __future__ import annotations

import hashlib
import json

STATE_FORMAT = "biomamba-loader-state/2"  # /1: per-rank streams, order depended on the DP size


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
        "seed": plan.seed,
        "shuffle": plan.shuffle,
        "shuffle_buffer": plan.shuffle_buffer,
        "logical_streams": plan.n_streams,
        "datasets": [src.name for src in plan.sources],
    }
    for src, p in zip(plan.sources, plan.probs):
        m = src.reader.manifest
        fp[f"datasets.{src.name}.weight"] = round(float(p), 12)
        summary = f"{len(m['shards'])} shards, {m['totals']['tokens']} tokens"
        fp[f"datasets.{src.name}.manifest"] = f"{manifest_digest(m)} ({summary})"
    return fp


HINTS = {
    "logical_streams": "the number of logical streams fixes the data order, whatever the DP size; "
    "set data.logical_streams to the saved value",
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
    for key in ("fingerprint", "position", "streams"):
        if key not in state:
            raise LoaderStateError(f"loader state lacks {key!r}; it was not written by TokenLoader.state_dict()")


def copy_stream(s: dict) -> dict:
    return {"windows": int(s["windows"]), "datasets": {k: list(v) for k, v in s["datasets"].items()}}


def _from_v1(state: dict) -> dict:
    """A state written before logical streams, in today's layout: its fingerprint keeps the old
    layout keys (so it never resumes exactly; ``allow_mismatch`` restarts its epochs) minus the DP
    rank, and its global position is its batches times micro-batch times DP size."""
    fp = {k: v for k, v in state.get("fingerprint", {}).items() if k != "dp_rank"}
    rank = state.get("fingerprint", {}).get("dp_rank", 0)
    position = int(state.get("batches", 0)) * int(fp.get("micro_batch_size", 1)) * int(fp.get("dp_size", 1))
    # negative ids: no logical stream of today, distinct across the old ranks
    streams = {str(-1 - i - 100_000 * int(rank)): {"windows": 0, "datasets": s["datasets"]}
               for i, s in enumerate(state["streams"])}
    return {"format": STATE_FORMAT, "fingerprint": fp, "position": position, "streams": streams}


def merge_states(states: list[dict]) -> dict:
    """One state holding every stream of ``states`` (the per-rank states of one checkpoint)."""
    if not states:
        raise LoaderStateError("no loader state given")
    v1 = "biomamba-loader-state/1"
    states = [_from_v1(s) if isinstance(s, dict) and s.get("format") == v1 and "streams" in s else s for s in states]
    for s in states:
        check_state(s)
    first = states[0]
    streams: dict[str, dict] = {}
    for s in states:
        if s["position"] != first["position"]:
            raise LoaderStateError(f"the ranks' loader states are at different global positions "
                                   f"({first['position']} and {s['position']}); they are not from one checkpoint")
        if describe_changes(first["fingerprint"], s["fingerprint"]):
            raise LoaderStateError("the ranks' loader states have different fingerprints; they are not from one run")
        for g, st in s["streams"].items():
            if g in streams and streams[g] != st:  # tensor-parallel peers save identical states
                raise LoaderStateError(f"two loader states disagree on stream {g}; they are not from one checkpoint")
            streams[g] = st
    return {**first, "streams": streams}
