"""Shared pytest fixtures.

Real NLM / PubMedQA samples live outside the project (``../shared/samples`` by
default, or ``$BIOMAMBA_SAMPLES``); tests that use them skip cleanly where the
folder is absent.  The project's own small fixtures live in ``tests/fixtures``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# Triton kernels (biomamba.ops.*_triton) run on CPU tensors through Triton's interpreter, which must be
# switched on before anything imports triton (megatron-core and transformers do), so here, first.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = REPO_ROOT / "tests" / "fixtures"


def _samples_path() -> Path:
    return Path(os.environ.get("BIOMAMBA_SAMPLES", REPO_ROOT.parent / "shared" / "samples"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """Folder of real samples (pubmed/, pmc/, pubmedqa/); skips when absent."""
    path = _samples_path()
    if not path.is_dir():
        pytest.skip(f"real samples not found at {path} (set BIOMAMBA_SAMPLES to enable)")
    return path


@pytest.fixture(scope="session")
def prepared_sample(tmp_path_factory) -> Path:
    """The embedded sample corpus run through the whole data-prep chain once per test session.

    Returns the output folder: ``tokenizer/tokenizer.model``, ``shards/{train,val,test}/manifest.json``.
    """
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("sample_data")
    proc = subprocess.run(
        [sys.executable, "-m", "data_prep", "run", "--config", str(REPO_ROOT / "configs/data/sample.yaml"), f"out_dir={out}"],
        capture_output=True, text=True, cwd=REPO_ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out
