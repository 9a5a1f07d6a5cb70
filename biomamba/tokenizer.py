"""The one tokenizer interface used by sharding, training and evaluation.

``load_tokenizer(path)`` accepts a SentencePiece ``.model``, a Hugging Face
``tokenizer.json`` (e.g. GPT-NeoX-20B's, which the state-spaces/mamba
checkpoints use), or a directory holding one of them.  Both kinds expose the
same API (see docs/CONTRACTS.md):

* ``encode(text)`` never adds BOS/EOS — documents are framed by the shard
  writer (tokens + one EOS);
* ``content_hash`` is the sha256 of the tokenizer file's bytes, recorded in
  every shard manifest so a model is never fed ids from another vocabulary;
* ``save_hf_files(out_dir)`` writes ``tokenizer.json`` + ``tokenizer_config.json``
  that ``transformers.AutoTokenizer.from_pretrained(out_dir)`` loads offline and
  that give the same ids as ``encode`` (checked when they are written).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

# Texts every exported tokenizer must encode exactly like the original.
_PROBES = (
    "BACKGROUND: Mamba models scale linearly in sequence length.\nMETHODS: 12345 mice (p < 0.05).",
    "  leading and  double spaces, trailing ",
    "β2-agonist, α-synuclein ≥ 3.5 µg/mL; Na⁺/K⁺-ATPase — 中文 😀 tab\there",
    "x\n\ny\n",
    "a literal </s> or <|endoftext|> inside text",
)


class TokenizerError(ValueError):
    pass


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Tokenizer:
    """Common base; subclasses set the attributes and implement ``encode_batch``/``decode``."""

    kind: str
    path: Path
    vocab_size: int
    eos_id: int
    bos_id: int
    pad_id: int | None
    content_hash: str

    def encode(self, text: str) -> list[int]:
        return self.encode_batch([text])[0]

    def encode_batch(self, texts: Sequence[str], num_threads: int | None = None) -> list[list[int]]:
        raise NotImplementedError

    def decode(self, ids: Sequence[int]) -> str:
        raise NotImplementedError

    def save_hf_files(self, out_dir: str | os.PathLike) -> Path:
        raise NotImplementedError

    def describe(self) -> dict:
        """The ``tokenizer`` entry of a shard manifest."""
        return {"kind": self.kind, "hash": self.content_hash, "path": str(self.path)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={str(self.path)!r}, vocab_size={self.vocab_size}, eos_id={self.eos_id})"

    def _write_hf_config(self, out_dir: Path, tokens: dict, split_special_tokens: bool) -> None:
        cfg = {
            "split_special_tokens": split_special_tokens,
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": 1_000_000_000,
            "clean_up_tokenization_spaces": False,
            "add_bos_token": False,
            "add_eos_token": False,
            "biomamba_tokenizer_hash": self.content_hash,
            **{k: v for k, v in tokens.items() if v is not None},
        }
        (out_dir / "tokenizer_config.json").write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n")
        (out_dir / "special_tokens_map.json").write_text(
            json.dumps({k: v for k, v in tokens.items() if v is not None}, indent=2, ensure_ascii=False) + "\n")

    def _check_export(self, hf_tokenizer) -> None:
        for text in _PROBES:
            got = hf_tokenizer.encode(text, add_special_tokens=False).ids
            want = self.encode(text)
            if got != want:
                raise TokenizerError(f"exported HF tokenizer disagrees with {self.path} on {text!r}: {got} != {want}")


class SentencePieceTokenizer(Tokenizer):
    kind = "sentencepiece"

    def __init__(self, path: str | os.PathLike):
        import sentencepiece as spm

        self.path = Path(path)
        self._sp = spm.SentencePieceProcessor(model_file=str(self.path))
        self.vocab_size = int(self._sp.get_piece_size())
        self.eos_id = int(self._sp.eos_id())
        if self.eos_id < 0:
            raise TokenizerError(f"{self.path}: the SentencePiece model has no EOS piece; retrain with eos_id set")
        bos = int(self._sp.bos_id())
        self.bos_id = bos if bos >= 0 else self.eos_id
        pad = int(self._sp.pad_id())
        self.pad_id = pad if pad >= 0 else None
        self.content_hash = _sha256(self.path)

    def encode_batch(self, texts: Sequence[str], num_threads: int | None = None) -> list[list[int]]:
        return self._sp.encode(list(texts), out_type=int, num_threads=num_threads or 0)

    def encode(self, text: str) -> list[int]:
        return self._sp.encode(text, out_type=int)

    def decode(self, ids: Sequence[int]) -> str:
        return self._sp.decode([int(i) for i in ids])

    def id_to_piece(self, i: int) -> str:
        return self._sp.id_to_piece(int(i))

    def to_hf_tokenizer(self):
        """A ``tokenizers.Tokenizer`` that encodes like this model (BPE or Unigram)."""
        from sentencepiece import sentencepiece_model_pb2
        from tokenizers import pre_tokenizers

        try:
            from transformers.convert_slow_tokenizer import SpmConverter

            build = SpmConverter.build_tokenizer_from_spm_proto
        except (ImportError, AttributeError) as exc:  # pragma: no cover - depends on the installed transformers
            raise TokenizerError("save_hf_files for SentencePiece models needs transformers>=5 "
                                 "(SpmConverter.build_tokenizer_from_spm_proto)") from exc
        proto = sentencepiece_model_pb2.ModelProto()
        proto.ParseFromString(self.path.read_bytes())
        if proto.trainer_spec.model_type == 1:  # unigram
            vocab = [(p.piece, p.score) for p in proto.pieces]
        else:
            vocab = {p.piece: i for i, p in enumerate(proto.pieces)}
        tok = build(proto, vocab)
        if tok is None:
            raise TokenizerError(f"{self.path}: unsupported SentencePiece model type {proto.trainer_spec.model_type}")
        if proto.trainer_spec.split_digits:
            # SentencePiece splits every digit apart; the converter does not model that option.
            tok.pre_tokenizer = pre_tokenizers.Sequence(
                [p for p in [tok.pre_tokenizer] if p is not None] + [pre_tokenizers.Digits(individual_digits=True)])
        return tok

    def save_hf_files(self, out_dir: str | os.PathLike) -> Path:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        tok = self.to_hf_tokenizer()
        self._check_export(tok)
        tok.save(str(out / "tokenizer.json"))
        piece = self._sp.id_to_piece
        unk = int(self._sp.unk_id())
        self._write_hf_config(out, {
            "bos_token": piece(self.bos_id),
            "eos_token": piece(self.eos_id),
            "pad_token": piece(self.pad_id) if self.pad_id is not None else None,
            "unk_token": piece(unk) if unk >= 0 else None,
        }, split_special_tokens=True)  # SentencePiece never turns "</s>" in text into the control id
        return out


class HFJsonTokenizer(Tokenizer):
    kind = "hf-json"
    EOS_CANDIDATES = ("<|endoftext|>", "</s>", "<eos>", "[SEP]")
    BOS_CANDIDATES = ("<s>", "<bos>", "<|startoftext|>", "[CLS]")
    PAD_CANDIDATES = ("<|padding|>", "<pad>", "[PAD]")

    def __init__(self, path: str | os.PathLike):
        from tokenizers import Tokenizer as _Tok

        self.path = Path(path)
        try:
            self._tok = _Tok.from_file(str(self.path))
        except Exception as exc:  # tokenizers raises a bare Exception on bad JSON
            raise TokenizerError(f"{self.path}: not a Hugging Face tokenizer.json ({exc})") from exc
        # Never let a post-processor add BOS/EOS: documents are framed by the shard writer.
        self._tok.post_processor = None
        self.vocab_size = int(self._tok.get_vocab_size(with_added_tokens=True))
        self.eos_id = self._find(self.EOS_CANDIDATES)
        if self.eos_id is None:
            raise TokenizerError(f"{self.path}: no end-of-text token among {self.EOS_CANDIDATES}")
        bos = self._find(self.BOS_CANDIDATES)
        self.bos_id = bos if bos is not None else self.eos_id  # GPT-NeoX uses <|endoftext|> for both
        self.pad_id = self._find(self.PAD_CANDIDATES)
        self.content_hash = _sha256(self.path)

    def _find(self, candidates) -> int | None:
        for c in candidates:
            i = self._tok.token_to_id(c)
            if i is not None:
                return int(i)
        return None

    def encode_batch(self, texts: Sequence[str], num_threads: int | None = None) -> list[list[int]]:
        return [e.ids for e in self._tok.encode_batch(list(texts), add_special_tokens=False)]

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Sequence[int]) -> str:
        return self._tok.decode([int(i) for i in ids], skip_special_tokens=False)

    def save_hf_files(self, out_dir: str | os.PathLike) -> Path:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self._check_export(self._tok)
        self._tok.save(str(out / "tokenizer.json"))
        tok = self._tok.id_to_token
        self._write_hf_config(out, {
            "bos_token": tok(self.bos_id),
            "eos_token": tok(self.eos_id),
            "pad_token": tok(self.pad_id) if self.pad_id is not None else None,
            "unk_token": tok(self.eos_id),
        }, split_special_tokens=False)  # tokenizers matches added tokens in text, and so does encode()
        return out


def load_tokenizer(path: str | os.PathLike) -> Tokenizer:
    """Open a SentencePiece model, an HF ``tokenizer.json``, or a directory holding one."""
    p = Path(path)
    if p.is_dir():
        for name in ("tokenizer.model", "spm.model"):
            if (p / name).is_file():
                return SentencePieceTokenizer(p / name)
        models = sorted(p.glob("*.model"))
        if models:
            return SentencePieceTokenizer(models[0])
        if (p / "tokenizer.json").is_file():
            return HFJsonTokenizer(p / "tokenizer.json")
        raise TokenizerError(f"{p}: no tokenizer.model, *.model or tokenizer.json in this directory")
    if not p.is_file():
        raise TokenizerError(f"tokenizer not found: {p} (train one with `python -m data_prep train-tokenizer` "
                             "or fetch GPT-NeoX's with scripts/fetch_neox_tokenizer.sh)")
    if p.suffix == ".json":
        return HFJsonTokenizer(p)
    return SentencePieceTokenizer(p)
