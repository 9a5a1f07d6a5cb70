"""Run the per-part shard function over several parts at once, one process per part.

Each part is independent, so with ``W`` worker processes a node tokenizes and
writes ``W`` shards concurrently: the Python-side tar writing (one core per
shard) scales with the workers instead of capping the tokenizer.  Workers are
forked (the tokenizer is already loaded and nothing is re-imported) and ask
the kernel to kill them if the parent dies, so a killed job leaves no orphan
still writing.  Each worker gives its tokenizer ``cores // W`` threads, and once
fewer than ``W`` parts are left unfinished, ``cores // parts left``: the cores of
idle workers go to the last shards instead of idling until they are done.

The function is passed in (``data_prep.stages.shard.shard`` gives ``shard_part``), so this module
imports nothing from data_prep.
"""

from __future__ import annotations

import gc
import multiprocessing
import signal
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable, Iterator

_STATE: dict = {}


def _die_with_parent() -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: best effort only
        pass


class ThreadShare:
    """Tokenizer threads for one worker: ``cores`` over the workers still busy, read before each batch."""

    def __init__(self, cores: int, workers: int, unfinished) -> None:
        self.cores, self.workers, self.unfinished = cores, workers, unfinished  # unfinished: a shared Value

    def __call__(self) -> int:
        return max(1, self.cores // max(1, min(self.workers, self.unfinished.value)))


def _work(item: dict) -> dict:
    try:
        return _STATE["work"](item, threads=_STATE["threads"])
    finally:
        with _STATE["unfinished"].get_lock():
            _STATE["unfinished"].value -= 1


def run_shard_parts(items: list[dict], work: Callable[..., dict], cores: int, workers: int = 0,
                    bar=None) -> Iterator[dict]:
    """Receipts of ``work(item, threads=..., [bar=...])`` for every item, in completion order.

    ``workers``: processes (0: one per core, at most one per item).
    """
    workers = min(workers or cores, len(items))
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for item in items:
            yield work(item, threads=cores, bar=bar)
        return
    ctx = multiprocessing.get_context("fork")
    unfinished = ctx.Value("i", len(items))
    _STATE.update(work=work, unfinished=unfinished, threads=ThreadShare(cores, workers, unfinished))
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
        _STATE.clear()
