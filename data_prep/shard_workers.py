"""Run :func:`data_prep.shard.shard_part` over several parts at once, one process per part.

Each part is independent, so with ``W`` worker processes a node tokenizes and
writes ``W`` shards concurrently: the Python-side tar writing (one core per
shard) scales with the workers instead of capping the tokenizer.  Workers are
forked (the tokenizer is already loaded and nothing is re-imported) and ask
the kernel to kill them if the parent dies, so a killed job leaves no orphan
still writing.  Each worker gives its tokenizer ``cores // W`` threads.
"""

from __future__ import annotations

import gc
import multiprocessing
import signal
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Iterator

_STATE: dict = {}


def _die_with_parent() -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: best effort only
        pass


def _work(item: dict) -> dict:
    from data_prep.shard import shard_part

    return shard_part(item, _STATE["out_dir"], _STATE["tok"], _STATE["cfg"], _STATE["threads"])


def run_shard_parts(items: list[dict], out_dir: Path, tok, cfg, cores: int, bar=None) -> Iterator[dict]:
    """Receipts of the shards written for ``items`` (in completion order)."""
    from data_prep.shard import shard_part

    workers = min(cfg.workers or cores, len(items))
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for item in items:
            yield shard_part(item, out_dir, tok, cfg, cores, bar)
        return
    _STATE.update(out_dir=out_dir, tok=tok, cfg=cfg, threads=max(1, cores // workers))
    ctx = multiprocessing.get_context("fork")
    # Move the parent's objects out of the collector's reach first: otherwise every forked
    # worker's garbage collection writes to all of them, copying the parent's heap page by page.
    gc.collect()
    gc.freeze()
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_die_with_parent) as pool:
            futures = {pool.submit(_work, item): item for item in items}
            try:
                for fut in as_completed(futures):
                    receipt = fut.result()
                    if bar is not None:
                        bar.update(futures[fut]["part"]["documents"])
                    yield receipt
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    finally:
        gc.unfreeze()
