"""Reading DeepSpeed's checkpoint pickles with PyTorch's restricted unpickler.

DeepSpeed writes its shard files with ``torch.save`` and reads them back with
``torch.load(weights_only=False)`` — a full unpickle, which runs whatever code a file names.
Besides tensors and plain containers, our checkpoints hold exactly three DeepSpeed objects
(found with ``torch.serialization.get_unsafe_globals_in_checkpoint`` on ZeRO 0-3, TP x DP
checkpoints): an ``IntEnum``, a loss-scaler record and a dataclass of two ints. They are
allowed here, and every ``torch.load`` made inside :func:`restricted_torch_load` — DeepSpeed's
own included — runs with ``weights_only=True``. A file naming anything else is refused by
PyTorch with an ``UnpicklingError`` that names the global.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Iterator
from unittest import mock


def deepspeed_safe_globals() -> list:
    from deepspeed.runtime.fp16.loss_scaler import LossScaler
    from deepspeed.runtime.zero.config import ZeroStageEnum
    from deepspeed.utils.tensor_fragment import fragment_address

    return [ZeroStageEnum, LossScaler, fragment_address]


@contextlib.contextmanager
def restricted_torch_load() -> Iterator[None]:
    """Within this block every ``torch.load`` (also inside DeepSpeed) uses the restricted unpickler.

    DeepSpeed passes ``weights_only=False`` explicitly and has no option to change it, so
    ``torch.load`` itself is wrapped for the duration (one process-wide attribute; the
    converters and the resume path are single-threaded there).
    """
    import torch

    real = torch.load

    @functools.wraps(real)
    def load(*args, **kwargs):
        kwargs["weights_only"] = True
        return real(*args, **kwargs)

    with torch.serialization.safe_globals(deepspeed_safe_globals()), mock.patch.object(torch, "load", load):
        yield


def load_checkpoint_file(path: str | Path, **kwargs):
    """One DeepSpeed shard file through the restricted unpickler (see the module docstring)."""
    import torch

    with restricted_torch_load():
        return torch.load(path, map_location="cpu", **kwargs)
