"""Shared pytest fixtures.

Real NLM / PubMedQA samples live outside the project (``../shared/samples`` by
default, or ``$BIOMAMBA_SAMPLES``); tests that use them skip cleanly where the
folder is absent.  The project's own small fixtures live in ``tests/fixtures``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
