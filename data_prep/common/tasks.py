"""Slurm array partitioning: which inputs belong to this task.

``--task-index/--num-tasks`` default to ``SLURM_ARRAY_TASK_ID`` and
``SLURM_ARRAY_TASK_COUNT``.  Item *i* of the (ordered) input list goes to task
``i % num_tasks``; every task must therefore be given the same full list.
Because outputs are named after their input (one part or shard per item),
what a task writes never depends on how many tasks there are.
"""

from __future__ import annotations

import os
import re
from typing import Sequence, TypeVar

T = TypeVar("T")


class TaskError(ValueError):
    pass


def task_from_env(task_index: int | None, num_tasks: int | None) -> tuple[int, int]:
    """Explicit values win; else Slurm's array variables; else a single task."""
    if num_tasks is None:
        env = os.environ.get("SLURM_ARRAY_TASK_COUNT")
        num_tasks = int(env) if env else 1
    if task_index is None:
        env = os.environ.get("SLURM_ARRAY_TASK_ID")
        task_index = int(env) if env else 0
        first = os.environ.get("SLURM_ARRAY_TASK_MIN")
        if env and first:
            task_index -= int(first)  # arrays may start at 1 (--array=1-8)
    if num_tasks < 1:
        raise TaskError(f"--num-tasks must be >= 1 (got {num_tasks})")
    if not 0 <= task_index < num_tasks:
        raise TaskError(f"--task-index {task_index} is outside 0..{num_tasks - 1}")
    return task_index, num_tasks


def natural_key(name: str) -> list:
    """Sort ``pubmed25n0009`` before ``pubmed25n0010`` and ``x2`` before ``x10``: the order inputs
    found in a folder are listed (and so dealt to tasks) in."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def my_items(items: Sequence[T], task_index: int, num_tasks: int) -> list[T]:
    return [x for i, x in enumerate(items) if i % num_tasks == task_index]
