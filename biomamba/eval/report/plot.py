"""report.png: one bar chart per metric, one bar per model (per-token metrics marked when tokenizers differ)."""

from __future__ import annotations

import math
from pathlib import Path

from .scores import is_per_token, lower_is_better


def plot(report: dict, path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = report["models"]
    metrics = sorted({k for m in models for k in m["scores"]})
    if not metrics:
        return
    mixed = len({m["tokenizer"]["group"] for m in models}) > 1
    cols = min(4, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, metric in zip(axes.flat, metrics):
        values = [m["scores"].get(metric, float("nan")) for m in models]
        labels = [m["name"] for m in models]
        ax.bar(range(len(models)), values, color=[colors[i % len(colors)] for i in range(len(models))])
        ax.set_xticks(range(len(models)), labels, rotation=20, ha="right", fontsize=7)
        title = metric + (" (lower is better)" if lower_is_better(metric) else "")
        if mixed and is_per_token(metric):
            title += "\nper token: NOT comparable across tokenizers"
        ax.set_title(title, fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.axis("off")
    fig.suptitle("Model comparison (same evaluation sets)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
