"""plots/training.png from a run's metrics.jsonl: everything against *tokens seen*.

Four panels: training loss, validation bits per byte (and perplexity), throughput (tokens/s),
and model FLOPs utilisation.  Tokens seen, not steps, is the x axis so runs with different batch
sizes line up.  Validation records carry only their step; they are placed at the tokens seen of
the training record of the same step.  MFU exists only where the device's peak is known (GPUs);
the panel says so instead of staying empty.
"""

from __future__ import annotations

import json
from pathlib import Path

from biomamba.rundir import RunDir


def read_metrics(run: Path) -> list[dict]:
    path = RunDir(run).metrics
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _series(recs: list[dict], key: str) -> tuple[list[float], list[float]]:
    tokens_at = {r["step"]: r["tokens_seen"] for r in recs if "tokens_seen" in r and "loss" in r}
    xs, ys = [], []
    for r in recs:
        if key in r and isinstance(r[key], (int, float)) and r.get("step") in tokens_at:
            xs.append(tokens_at[r["step"]])
            ys.append(r[key])
    return xs, ys


def plot_training(run: Path, out: Path) -> Path:
    """Loss, validation bpb/perplexity, tokens/s and MFU against tokens seen (``out``, a PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import EngFormatter

    recs = read_metrics(Path(run))
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), layout="constrained", sharex=True)
    (loss_ax, val_ax), (tps_ax, mfu_ax) = axes
    loss_ax.plot(*_series(recs, "loss"))
    loss_ax.set(ylabel="training loss (nats/token)", title="Pretraining loss")
    xs, bpb = _series(recs, "val_bpb")
    val_ax.plot(xs, bpb, marker="o", color="tab:green")
    val_ax.set(ylabel="validation bits per byte", title="Validation bits per byte (padding never scored)")
    xs_ppl, ppl = _series(recs, "val_ppl")
    if ppl:
        twin = val_ax.twinx()
        twin.plot(xs_ppl, ppl, marker=".", linestyle=":", color="tab:gray")
        twin.set_ylabel("validation perplexity (dotted)", color="tab:gray")
    tps_ax.plot(*_series(recs, "tokens_per_s"), color="tab:orange")
    tps_ax.set(ylabel="tokens/s (all processes)", title="Throughput", ylim=(0, None))
    xs_mfu, mfu = _series(recs, "mfu")
    if mfu:
        mfu_ax.plot(xs_mfu, [100 * v for v in mfu], color="tab:red")
        mfu_ax.set(ylim=(0, None))
    else:
        mfu_ax.text(0.5, 0.5, "no MFU: the device's peak FLOP/s is unknown\n(CPU run, or an unlisted GPU)",
                    ha="center", va="center", transform=mfu_ax.transAxes, fontsize=10, color="dimgray")
    mfu_ax.set(ylabel="MFU (%)", title="Model FLOPs utilisation")
    for ax in axes.flat:
        ax.tick_params(labelbottom=True)
        ax.set_xlabel("tokens seen")
        ax.xaxis.set_major_formatter(EngFormatter())
        ax.grid(alpha=0.3)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
