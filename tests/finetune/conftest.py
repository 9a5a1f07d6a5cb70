"""Fixtures for the fine-tuning tests: the eval tests' SentencePiece tokenizer and the fixture questions."""

from __future__ import annotations

import pytest

from biomamba.config import load_config
from biomamba.eval.bioasq.data import load_bioasq
from biomamba.finetune.config import FinetuneConfig
from tests.eval import conftest as eval_fixtures

# The evaluation tests' session fixtures: a small SentencePiece tokenizer trained on the fixture text.
sp_model_path = eval_fixtures.sp_model_path
tokenizer = eval_fixtures.tokenizer

TINY = "configs/finetune/tiny_fixture.yaml"


@pytest.fixture(scope="session")
def training_questions(repo_root):
    questions, report = load_bioasq(repo_root / "tests/fixtures/eval/training.json", require_answers=True)
    assert report.ok
    return questions


@pytest.fixture
def tiny_config(repo_root, sp_model_path):
    """FinetuneConfig of configs/finetune/tiny_fixture.yaml with the test tokenizer, plus overrides."""

    def make(*overrides: str) -> FinetuneConfig:
        train_json = repo_root / "tests/fixtures/eval/training.json"
        return load_config(FinetuneConfig, repo_root / TINY,
                           [f"tokenizer={sp_model_path}", f"finetune.train_json={train_json}", *overrides])

    return make
