"""init.from_pretrained: which rows are kept, how the config is formed, what is refused (no torchrun)."""

from __future__ import annotations

import json
import random

import pytest
import torch

from biomamba.config import ConfigError, load_config
from biomamba.convert.pretrained import load_for_continued_pretraining, read_pretrained
from biomamba.model import MambaLM
from biomamba.train.config import TrainConfig

from .helpers import export_to, loaded, tiny_model

TINY = "configs/pretrain/tiny_synthetic.yaml"


def train_cfg(repo_root, *overrides) -> TrainConfig:
    return load_config(TrainConfig, repo_root / TINY, list(overrides))


def word_tokenizer(path, words):
    """A word-level tokenizer.json with exactly these tokens, in this id order."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.save(str(path))
    return path


SOURCE_WORDS = ["<|endoftext|>", "[UNK]"] + [f"w{i}" for i in range(38)]  # 40 tokens
OUR_WORDS = ["<|endoftext|>", "[UNK]"] + [f"w{i}" for i in range(20, 50)] + [f"new{i}" for i in range(16)]  # 48
random.Random(0).shuffle(OUR_WORDS)


@pytest.mark.parametrize("tie", [True, False])
def test_different_tokenizer_keeps_overlapping_rows(tmp_path, repo_root, capsys, tie):
    src_tok = word_tokenizer(tmp_path / "src.json", SOURCE_WORDS)
    our_tok = word_tokenizer(tmp_path / "ours.json", OUR_WORDS)
    source = tiny_model(vocab=40, tie=tie, seed=11)
    hf_dir = export_to(loaded(source), tmp_path / "hf", "hf", tokenizer=str(src_tok))
    cfg = train_cfg(repo_root, f"init.from_pretrained={hf_dir}", f"tokenizer={our_tok}")
    model = load_for_continued_pretraining(cfg, is_main=True)

    assert (model.config.d_model, model.config.n_layer, model.config.vocab_size) == (32, 2, 48)
    assert cfg.model == model.config  # the run records the model it actually trains
    fresh = MambaLM(model.config).init_weights(cfg.seed)
    src_sd, sd = source.state_dict(), model.state_dict()
    shared = [(i, SOURCE_WORDS.index(w)) for i, w in enumerate(OUR_WORDS) if w in SOURCE_WORDS]
    assert len(shared) == 20  # <|endoftext|>, [UNK], w20..w37
    for name in ["backbone.embedding.weight"] + ([] if tie else ["lm_head.weight"]):
        for i, w in enumerate(OUR_WORDS):
            want = src_sd[name][SOURCE_WORDS.index(w)] if w in SOURCE_WORDS else fresh.state_dict()[name][i]
            assert torch.equal(sd[name][i], want), (name, w)
    for k, v in src_sd.items():
        if k not in ("backbone.embedding.weight", "lm_head.weight"):
            assert torch.equal(sd[k], v), k
    if tie:
        assert model.lm_head.weight is model.backbone.embedding.weight
    assert "kept 20 of 48 embedding rows, initialized 28" in capsys.readouterr().out


@pytest.mark.parametrize("kind", ["sentencepiece", "hf-json"])
def test_same_tokenizer_gives_the_same_model(tmp_path, repo_root, spm_path, hf_json_path, kind):
    """Recognized as the same tokenizer although the export re-serialized it (vocab_policy=error passes)."""
    path, vocab = (spm_path, 400) if kind == "sentencepiece" else (hf_json_path, 350)
    source = tiny_model(vocab=vocab, seed=12)
    hf_dir = export_to(loaded(source), tmp_path / "hf", "hf", tokenizer=str(path))
    cfg = train_cfg(repo_root, f"init.from_pretrained={hf_dir}", f"tokenizer={path}", "init.vocab_policy=error")
    model = load_for_continued_pretraining(cfg, is_main=False).eval()
    ids = torch.randint(0, vocab, (2, 19), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(model(ids), source(ids))


def test_vocab_policy_error_refuses_a_different_tokenizer(tmp_path, repo_root):
    hf_dir = export_to(loaded(tiny_model(vocab=40)), tmp_path / "hf", "hf",
                       tokenizer=str(word_tokenizer(tmp_path / "src.json", SOURCE_WORDS)))
    cfg = train_cfg(repo_root, f"init.from_pretrained={hf_dir}", "init.vocab_policy=error",
                    f"tokenizer={word_tokenizer(tmp_path / 'ours.json', OUR_WORDS)}")
    with pytest.raises(ConfigError, match="vocab_policy=error"):
        load_for_continued_pretraining(cfg, is_main=False)


def test_unknown_source_tokenizer_needs_init_source_tokenizer(tmp_path, repo_root):
    src_tok = word_tokenizer(tmp_path / "src.json", SOURCE_WORDS)
    our_tok = word_tokenizer(tmp_path / "ours.json", OUR_WORDS)
    ssm_dir = export_to(loaded(tiny_model(vocab=40, seed=13)), tmp_path / "ssm", "mamba_ssm")  # no tokenizer files
    cfg = train_cfg(repo_root, f"init.from_pretrained={ssm_dir}", f"tokenizer={our_tok}")
    with pytest.raises(ConfigError, match="init.source_tokenizer"):
        load_for_continued_pretraining(cfg, is_main=False)
    cfg = train_cfg(repo_root, f"init.from_pretrained={ssm_dir}", f"tokenizer={our_tok}", f"init.source_tokenizer={src_tok}")
    assert load_for_continued_pretraining(cfg, is_main=False).config.vocab_size == 48


@pytest.mark.parametrize("fmt", ["mamba_ssm", "biomamba", "hf"])
def test_padding_comes_from_our_config(tmp_path, repo_root, fmt):
    """No tokenizer configured: the source vocabulary is kept and re-padded (1000 → 1008 for multiple 16)."""
    source = tiny_model(vocab=1000, seed=14)
    src_dir = export_to(loaded(source), tmp_path / fmt, fmt)
    cfg = train_cfg(repo_root, f"init.from_pretrained={src_dir}", "model.pad_vocab_size_multiple=16")
    model = load_for_continued_pretraining(cfg, is_main=False)
    assert (model.config.vocab_size, model.config.padded_vocab_size) == (1000, 1008)
    emb = model.backbone.embedding.weight
    assert torch.equal(emb[:1000], source.backbone.embedding.weight)
    fresh = MambaLM(model.config).init_weights(cfg.seed).backbone.embedding.weight
    assert torch.equal(emb[1000:], fresh[1000:])


def test_read_pretrained_refuses_pickled_objects(tmp_path, repo_root):
    """Only tensors are unpickled: a .bin holding any other object is refused, naming the file."""
    d = tmp_path / "evil"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(tiny_model().config.to_mamba_ssm_dict()))
    torch.save({"backbone.embedding.weight": torch.zeros(2), "payload": _Payload()}, d / "pytorch_model.bin")
    from biomamba.convert import ConversionError

    with pytest.raises(ConversionError, match="weights_only"):
        read_pretrained(d)
    cfg = train_cfg(repo_root, f"init.from_pretrained={d}")
    with pytest.raises(ConfigError, match="pytorch_model.bin"):
        load_for_continued_pretraining(cfg, is_main=False)
    assert not _Payload.ran


class _Payload:
    ran = False

    def __reduce__(self):
        return (_Payload._run, ())

    @staticmethod
    def _run():
        _Payload.ran = True
        return "ran"
