"""Resuming at a different data-parallel size through DeepSpeed's universal checkpoint.

DeepSpeed refuses to load ZeRO optimizer shards written at another DP size. Its
``ds_to_universal`` converter rewrites a checkpoint as per-parameter fp32 weights and
Adam moments (merging TP slices by the patterns we record in every checkpoint), and an
engine started with ``checkpoint.load_universal`` re-partitions them for the new layout.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

UNIVERSAL_SUFFIX = "_universal"


def universal_checkpoint_info(model) -> dict:
    """How each parameter is laid out over TP ranks, in DeepSpeed's universal-checkpoint vocabulary.

    Only patterns that match a parameter are listed (the converter's strict mode rejects unused ones).
    Parameters matching none (conv1d, dt_proj, A_log, D) are split along dim 0, the default.
    """
    from deepspeed.checkpoint import constants as c

    names = [n for n, _ in model.named_parameters()]
    candidates = {
        # block norms only: Mamba-2's gated mixer.norm.weight is split by channel (default dim 0)
        c.TP_REPLICATED_PARAMETER_PATTERNS: [r".*layers\.\d+\.norm\.weight$", r".*norm_f\.weight$",
                                             r".*out_proj\.bias$"],
        c.PARAMETER_WITH_ROW_PARALLELISM_PATTERNS: [r".*x_proj\.weight$", r".*out_proj\.weight$"],
        c.VOCABULARY_PARAMETER_PATTERNS: [r".*embedding\.weight$", r".*lm_head\.weight$"],
        # in_proj's rows are [x; z], each half split over TP ranks (see biomamba.parallel.tp_layout)
        c.PARAMETER_WITH_2_SUB_PARAMS_CAT_DIM_0: [r".*in_proj\.weight$", r".*in_proj\.bias$"],
    }
    if getattr(getattr(model, "config", None), "is_mamba2", False):
        # Mamba-2's in_proj ([z; x; B; C; dt]) and conv1d ([x; B; C]) hold 5 / 3 unequal sections, each
        # split over TP (biomamba.parallel.tp_layout). Listed under no pattern they merge by plain
        # concatenation of the rank slices and re-split the same way; resuming requires the same TP
        # (CheckpointManager.plan_resume), so that round trip restores every rank's slice exactly
        # (the 2-sub-parameter rule would cut odd-sized local slices wrongly).
        del candidates[c.PARAMETER_WITH_2_SUB_PARAMS_CAT_DIM_0]
    info = {k: [p for p in pats if any(re.match(p, n) for n in names)] for k, pats in candidates.items()}
    info[c.UNIVERSAL_CHECKPOINT_VERSION_KEY] = c.UNIVERSAL_CHECKPOINT_VERSION_VALUE
    info["original_vocab_size"] = model.config.padded_vocab_size
    return info


# DeepSpeed's converter, with every torch.load in it (and in its forked workers) restricted to
# weights_only=True plus the DeepSpeed record types our checkpoints hold (biomamba.safe_load).
_RESTRICTED_CONVERTER = """
import runpy, sys
from biomamba.safe_load import restricted_torch_load
sys.argv[0] = "ds_to_universal"
with restricted_torch_load():
    runpy.run_module("deepspeed.checkpoint.ds_to_universal", run_name="__main__", alter_sys=True)
"""


def convert_to_universal(tag_dir: Path, workers: int, timeout_s: float) -> str:
    """Write ``<tag>_universal`` next to ``tag_dir`` (once; atomic via a temp folder) and return its tag.

    DeepSpeed's converter runs in a subprocess with ``workers`` extract and merge processes (it
    parallelizes over ZeRO shard files and parameters; one worker made a 2.8b conversion a long
    serial job) and is killed after ``timeout_s`` seconds (``checkpoint.universal_timeout_s``).
    The result is fsynced before its ``COMPLETE`` marker and the rename that publishes it.
    """
    from biomamba.config import ConfigError
    from biomamba.io import atomic_write_bytes, fsync_tree, replace_dir
    from biomamba.rundir import COMPLETE

    out = tag_dir.with_name(tag_dir.name + UNIVERSAL_SUFFIX)
    if (out / COMPLETE).is_file():
        return out.name
    tmp = tag_dir.with_name(f"{out.name}.tmp.{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [sys.executable, "-c", _RESTRICTED_CONVERTER, "--input_folder", str(tag_dir),
           "--output_folder", str(tmp), "--num_extract_workers", str(workers), "--num_merge_workers", str(workers)]
    # Own session, so a timeout kills the converter's worker processes too.
    # biomamba importable in the child also when it runs from a checkout (launcher/*.py add it to sys.path)
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env=env)
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        shutil.rmtree(tmp, ignore_errors=True)
        raise ConfigError(
            f"converting {tag_dir} to a universal checkpoint (for the new data-parallel size) took longer than "
            f"checkpoint.universal_timeout_s={timeout_s:g} s; raise it (or checkpoint.universal_workers), "
            "or resume with the data-parallel size the checkpoint was written with"
        ) from None
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"ds_to_universal failed on {tag_dir}:\n{stdout[-2000:]}\n{stderr[-3000:]}")
    fsync_tree(tmp)
    atomic_write_bytes(tmp / COMPLETE, b"")
    replace_dir(tmp, out)
    return out.name
