"""plots/training.png (issue 18): loss, validation bits per byte, tokens/s and MFU against tokens seen."""

from __future__ import annotations

import json

from biomamba.train.training_plot import _series, plot_training


def test_training_plot_puts_every_series_on_tokens_seen(tmp_path):
    recs = [{"step": s, "loss": 8.0 - s / 10, "tokens_seen": 1024 * s, "tokens_per_s": 900.0 + s, "mfu": 0.3}
            for s in range(1, 21)]
    recs += [{"step": 10, "val_loss": 5.0, "val_ppl": 148.4, "val_bpb": 1.6},
             {"step": 20, "val_loss": 4.0, "val_ppl": 54.6, "val_bpb": 1.2}, {"step": 20, "event": "done"}]
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    assert _series(recs, "val_bpb") == ([10240, 20480], [1.6, 1.2])  # validation placed at its step's tokens
    assert _series(recs, "mfu")[0][-1] == 20480
    out = plot_training(tmp_path, tmp_path / "plots" / "training.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000
