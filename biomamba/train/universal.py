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


def convert_to_universal(tag_dir: Path) -> str:
    """Write ``<tag>_universal`` next to ``tag_dir`` (once; atomic via a temp folder) and return its tag."""
    out = tag_dir.with_name(tag_dir.name + UNIVERSAL_SUFFIX)
    if (out / "COMPLETE").is_file():
        return out.name
    tmp = tag_dir.with_name(f"{out.name}.tmp.{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    proc = subprocess.run(
        [sys.executable, "-m", "deepspeed.checkpoint.ds_to_universal", "--input_folder", str(tag_dir),
         "--output_folder", str(tmp), "--num_extract_workers", "1", "--num_merge_workers", "1"],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"ds_to_universal failed on {tag_dir}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    (tmp / "COMPLETE").write_bytes(b"")
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return out.name
