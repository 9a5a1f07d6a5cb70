"""A real training run (torchrun, TP=2, ZeRO-1) starting from an exported HF directory.

Its first logged loss is computed before any update, so it must equal the imported model's
loss on the same synthetic batch computed here in one process: that checks the import,
the TP split of every parameter by ``parallelize`` and the config taken from the HF directory.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from biomamba.convert.source import read_source
from biomamba.model import MambaLM
from biomamba.train.synthetic_data import SyntheticTokens

from .helpers import export_to, loaded, tiny_model

pytestmark = pytest.mark.slow


def test_training_starts_from_an_hf_directory(tmp_path):
    from tests.train.launch import TINY, losses, torchrun

    source = tiny_model(vocab=512, d_model=64, n_layer=2, seed=21)
    hf_dir = export_to(loaded(source), tmp_path / "hf", "hf")
    run_dir = tmp_path / "run"
    # No model.* overrides: the architecture (tiny.yaml says d_model=256, 4 layers) comes from the HF directory.
    proc = torchrun(2, TINY, ["max_steps=2", "log_every=1", "eval.every_steps=0", "eval.at_end=false",
                              "checkpoint.every_steps=2", "parallel.precision=fp32", "schedule.warmup_steps=1",
                              "data.seq_len=32", "data.micro_batch_size=8", "parallel.tensor_parallel=2",
                              "parallel.zero_stage=1", f"init.from_pretrained={hf_dir}", f"run_dir={run_dir}"])
    assert "kept 512 of 512 embedding rows" in proc.stdout

    batch = SyntheticTokens(512, 32, 8, 0, 1, seed=1234).micro_batch(0)
    with torch.no_grad():
        logits = source(batch["input_ids"])
        want = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch["labels"].reshape(-1)).item()
    got = losses(run_dir)[1]
    assert abs(got - want) <= 1e-5 * abs(want), (got, want)
    with torch.no_grad():  # not vacuous: a freshly initialized model scores this batch differently
        fresh = MambaLM(source.config).init_weights(1234)(batch["input_ids"])
        assert abs(F.cross_entropy(fresh.reshape(-1, 512), batch["labels"].reshape(-1)).item() - want) > 1e-2

    trained = read_source(run_dir)
    assert trained.meta["config"]["init"]["from_pretrained"] == str(hf_dir)
    assert (trained.config.d_model, trained.config.n_layer, trained.config.vocab_size) == (64, 2, 512)
    assert any(not torch.equal(trained.state_dict[k], v) for k, v in source.state_dict().items())
