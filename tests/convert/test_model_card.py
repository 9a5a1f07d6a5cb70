"""The model card states what the checkpoint records: steps, tokens, layout, and the data manifests' totals."""

from __future__ import annotations

from biomamba.convert.model_card import render
from biomamba.data.format import new_manifest
from biomamba.io import atomic_write_json

from .helpers import loaded, tiny_model


def test_card_reports_training_and_data(tmp_path):
    split = tmp_path / "pubmed" / "train"
    split.mkdir(parents=True)
    shard = {"name": "shard-000000.tar", "documents": 1234, "tokens": 5_678_901, "bytes": 9, "size": 9, "sha256": "0"}
    atomic_write_json(split / "manifest.json", new_manifest("train", [shard], vocab_size=512, eos_id=3,
                                                            tokenizer={"kind": "sentencepiece", "hash": "h", "path": "t"}))
    meta = {
        "tag": "step_00001000",
        "layout": {"tp": 2, "dp": 4, "zero_stage": 1, "world_size": 8},
        "train_state": {"step": 1000, "tokens_seen": 16_384_000, "skipped_steps": 1},
        "tokenizer_hash": "abc",
        "versions": {"torch": "2.13.0", "deepspeed": "0.19.8"},
        "config": {
            "data": {"datasets": [{"path": str(split), "weight": 0.7, "name": "pubmed/train"},
                                  {"path": "/elsewhere/pmc/train", "weight": 0.3, "name": "pmc/train"}],
                     "seq_len": 2048, "micro_batch_size": 2},
            "parallel": {"gradient_accumulation_steps": 4, "precision": "bf16"},
            "optim": {"lr": 3e-4}, "schedule": {"kind": "wsd", "warmup_steps": 100},
            "init": {"from_pretrained": "/models/mamba-130m-hf"},
        },
    }
    card = render(loaded(tiny_model(), kind="training", meta=meta), dtype="bfloat16")
    for expected in ("optimizer steps: 1,000", "tokens seen: 16,384,000", "skipped (non-finite) steps: 1",
                     "global batch 32 sequences", "TP=2, DP=4, ZeRO-1, precision bf16", "/models/mamba-130m-hf",
                     "| `pubmed/train` | 0.7 | 1,234 | 5,678,901 |", "| `pmc/train` | 0.3 | n/a |",
                     "training checkpoint `step_00001000`", "torch 2.13.0", "schedule wsd"):
        assert expected in card, expected
