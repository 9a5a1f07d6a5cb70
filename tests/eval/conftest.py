"""A small real SentencePiece tokenizer for evaluation tests.

Trained once per session on the project's own BioASQ sample and fixture text,
and opened with the project's ``biomamba.tokenizer.load_tokenizer``.
"""

from __future__ import annotations

import io
import json

import pytest

from biomamba.eval.bioasq.data import load_bioasq
from biomamba.tokenizer import load_tokenizer


def _corpus(repo_root) -> list[str]:
    lines = []
    for path in (
        repo_root / "biomamba/resources/sample/bioasq_sample.json",
        repo_root / "tests/fixtures/eval/training.json",
    ):
        questions, _ = load_bioasq(path)
        for q in questions:
            lines += [q.body, *(s.text for s in q.snippets), *q.ideal_answers]
    # The prompt template's words, often enough to become whole tokens as in a real tokenizer.
    template = "Question: Context: Answer: yes no maybe. Answer yes or no. Answer yes, no or maybe."
    template += " Answer with the name of one entity. Answer with a list of entities separated by semicolons."
    template += " Answer in one to three sentences."
    return lines + [template] * 50


@pytest.fixture(scope="session")
def sp_model_path(tmp_path_factory, repo_root) -> str:
    import sentencepiece as spm

    out = tmp_path_factory.mktemp("spm") / "eval_test.model"
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_corpus(repo_root)),
        model_writer=model,
        vocab_size=1000,
        model_type="bpe",
        character_coverage=1.0,
        byte_fallback=True,
        pad_id=0,
        unk_id=1,
        bos_id=2,
        eos_id=3,
        minloglevel=2,
    )
    out.write_bytes(model.getvalue())
    return str(out)


@pytest.fixture(scope="session")
def tokenizer(sp_model_path):
    return load_tokenizer(sp_model_path)


@pytest.fixture
def write_json(tmp_path):
    """Write an object as JSON under tmp_path and return the path."""

    def write(name: str, obj) -> str:
        path = tmp_path / name
        path.write_text(json.dumps(obj), encoding="utf-8")
        return str(path)

    return write
