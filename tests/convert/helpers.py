"""Helpers shared by the conversion tests (fixtures are in conftest.py)."""

from __future__ import annotations

import gzip
import html
import os
import re
from pathlib import Path

import torch

from biomamba.model import MambaConfig, MambaLM

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "biomamba" / "resources" / "sample" / "pubmed_sample_baseline.xml.gz"

# Short CPU trainings (like tests/train/test_equivalence.py): 3 steps, fp32, a 2-layer d_model=64 model.
TRAIN_COMMON = ["max_steps=3", "log_every=1", "eval.every_steps=0", "eval.at_end=false", "checkpoint.every_steps=3",
                "parallel.precision=fp32", "optim.lr=1e-3", "schedule.warmup_steps=1", "model.n_layer=2",
                "model.d_model=64", "model.vocab_size=512", "data.seq_len=32"]
LAYOUTS = {
    "zero3_tp2": ["data.micro_batch_size=8", "parallel.zero_stage=3", "parallel.tensor_parallel=2"],
    "zero1_dp2": ["data.micro_batch_size=4", "parallel.zero_stage=1"],
}


def corpus_lines() -> list[str]:
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        text = html.unescape(re.sub(r"<[^>]+>", "\n", f.read()))
    return [line.strip() for line in text.splitlines() if len(line.strip()) > 20]


def tiny_model(vocab: int = 512, seed: int = 0, tie: bool = True, **kw) -> MambaLM:
    """A small model whose every tensor is distinct (noise on top of the init), so swaps would show."""
    cfg = MambaConfig(d_model=kw.pop("d_model", 32), n_layer=kw.pop("n_layer", 2), vocab_size=vocab,
                      ssm_cfg={"d_state": 8}, tie_embeddings=tie, **kw)
    model = MambaLM(cfg).init_weights(seed)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return model.eval()


def loaded(model: MambaLM, kind: str = "biomamba", **kw):
    from biomamba.convert.source import LoadedModel

    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if model.config.tie_embeddings:
        sd["lm_head.weight"] = sd["backbone.embedding.weight"]
    return LoadedModel(kind, Path("<memory>"), model.config, sd, **kw)


def run_cli(*argv) -> int:
    from biomamba.convert.cli import main

    return main([str(a) for a in argv])


def no_leftovers(out: Path) -> bool:
    """Nothing under the output name, and no staging folder of ours beside it."""
    return not out.exists() and not any(p.name.startswith(f".{out.name}.tmp-{os.getpid()}") for p in out.parent.iterdir())


def export_to(m, out: Path, to: str = "hf", **kw) -> Path:
    from biomamba.convert.export import export

    export(m, out, to, **kw)
    return out
