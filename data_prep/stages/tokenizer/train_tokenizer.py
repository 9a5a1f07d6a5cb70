"""``train-tokenizer``: a SentencePiece BPE model trained on a sample of the train split.

Settings chosen so the tokenizer is lossless and byte-accountable:
``normalization_rule_name=identity`` and ``remove_extra_whitespaces=false``
(``decode(encode(text)) == text``, so bits-per-byte is measured on the real
text), byte fallback (no ``<unk>`` for rare characters), digits split one by
one, ``"\\n"`` as a user-defined piece (paragraph breaks survive), and ids
``<unk>=0, <s>=1, </s>=2, <pad>=3``.

Memory is bounded by the sample: documents are chosen by a hash of their id
(deterministic, independent of order) at a rate giving about ``sample_docs``
documents, each split into lines of at most ``max_sentence_chars``, and at most
``max_sentences`` lines are written to the temporary training file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

from biomamba.io import atomic_write_bytes, tmp_path
from data_prep.config import TokenizerConfig
from data_prep.common.jsonl import iter_records
from data_prep.common.progress import Progress
from data_prep.stages.split.split import read_parts
from data_prep.common.stats import StageStats

log = logging.getLogger("data_prep")
MODEL_NAME = "tokenizer.model"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _selected(doc_id: str, rate: float) -> bool:
    h = int.from_bytes(hashlib.blake2b(doc_id.encode(), digest_size=8, person=b"tok-sample").digest(), "big")
    return h / 2**64 < rate


def training_lines(text: str, max_chars: int) -> list[str]:
    """Lines of a document for SentencePiece (which reads one sentence per line)."""
    out = []
    for para in text.split("\n"):
        para = para.strip()
        while len(para) > max_chars:
            cut = max((m.end() for m in _SENTENCE_END.finditer(para, 0, max_chars)), default=0) or max_chars
            out.append(para[:cut].strip())
            para = para[cut:].strip()
        if para:
            out.append(para)
    return out


def input_files(inputs: list[str | Path]) -> tuple[list[Path], int | None]:
    """JSONL files to read, and the document count when known (from a split's parts.json)."""
    files: list[Path] = []
    total: int | None = 0
    for p in map(Path, inputs):
        if p.is_dir():
            index = read_parts(p)
            files += [p / part["name"] for part in index["parts"]]
            total = None if total is None else total + index["documents"]
        else:
            files.append(p)
            total = None
    return files, total


def _write_canonical(trained: Path, dest: Path) -> None:
    """Save the model without run-specific trainer fields (temp paths, thread count), so the
    same sample gives the same bytes — and the same content hash — on any machine."""
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(trained.read_bytes())
    del proto.trainer_spec.input[:]
    proto.trainer_spec.input.append("sentences.txt")
    proto.trainer_spec.model_prefix = "tokenizer"
    proto.trainer_spec.num_threads = 1
    atomic_write_bytes(dest, proto.SerializeToString(deterministic=True), tmp=tmp_path(dest, hidden=False))


def train_tokenizer(inputs: list[str | Path], out_dir: str | Path, cfg: TokenizerConfig) -> StageStats:
    import sentencepiece as spm

    from biomamba.tokenizer import load_tokenizer

    out_dir = Path(out_dir)
    files, total = input_files(inputs)
    rate = 1.0 if not total else min(1.0, cfg.sample_docs / total)
    stats = StageStats("train-tokenizer", inputs=[str(f) for f in files])
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".train-", dir=out_dir))
    try:
        text_file = work / "sentences.txt"
        lines = 0
        with open(text_file, "w", encoding="utf-8") as f, Progress("tokenizer sample", unit="docs") as bar:
            for path in files:
                for _, rec in iter_records(path, stats):
                    bar.update()
                    if lines >= cfg.max_sentences:
                        stats.drop("sentence_cap")
                    elif stats.kept >= cfg.sample_docs or not _selected(rec["id"], rate):
                        stats.drop("not_sampled")
                    else:
                        for line in training_lines(rec["text"], cfg.max_sentence_chars)[: cfg.max_sentences - lines]:
                            f.write(line + "\n")
                            lines += 1
                        stats.keep()
        if lines == 0:
            raise ValueError(f"no training text found in {[str(f) for f in files]}")
        threads = cfg.threads or len(os.sched_getaffinity(0))
        log.info("training SentencePiece BPE (vocab %d) on %d lines from %d documents", cfg.vocab_size, lines, stats.kept)
        try:
            _train_spm(spm, text_file, work, cfg, threads)
        except RuntimeError as exc:  # sentencepiece reports bad settings as RuntimeError
            raise ValueError(f"SentencePiece training failed: {exc} (tokenizer.vocab_size / --vocab-size may be "
                             "too large for this much text)") from exc
        _write_canonical(work / "spm.model", out_dir / MODEL_NAME)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    tok = load_tokenizer(out_dir / MODEL_NAME)
    hf_dir = tok.save_hf_files(out_dir / "hf")
    stats.info.update({"lines": lines, "sample_rate": rate, "vocab_size": tok.vocab_size,
                       "content_hash": tok.content_hash, "hf_dir": str(hf_dir)})
    return stats.finish()


def _train_spm(spm, text_file: Path, work: Path, cfg: TokenizerConfig, threads: int) -> None:
    spm.SentencePieceTrainer.train(
        input=str(text_file), model_prefix=str(work / "spm"), model_type="bpe", vocab_size=cfg.vocab_size,
        byte_fallback=True, split_digits=True, normalization_rule_name="identity",
        remove_extra_whitespaces=False, add_dummy_prefix=True, allow_whitespace_only_pieces=True,
        user_defined_symbols=["\n"], unk_id=0, bos_id=1, eos_id=2, pad_id=3,
        unk_piece="<unk>", bos_piece="<s>", eos_piece="</s>", pad_piece="<pad>",
        character_coverage=cfg.character_coverage, max_sentence_length=4 * cfg.max_sentence_chars,
        input_sentence_size=0, shuffle_input_sentence=False, num_threads=threads, minloglevel=2,
    )
