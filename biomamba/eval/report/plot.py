"""report.png: one compact figure, a panel per task group, models side by side with 95 % CI whiskers.

Panels (only those with data): BioASQ exact answers, BioASQ ideal answers (ROUGE), PubMedQA, and
language-model bits per byte (the one LM metric that compares across tokenizers).  Chance and
majority baselines are drawn as dashed lines over the metrics they apply to; a zero score is drawn
as a mark on the axis with its value written above it (never an empty panel); a metric on a
contaminated evaluation set is hatched and labelled.  Sized to be read at 100 % zoom (dpi 100).
"""

from __future__ import annotations

from pathlib import Path

GROUPS = (
    ("BioASQ exact answers", "bioasq.", lambda leaf: not leaf.startswith("rouge") and leaf not in
     ("yesno_f1_yes", "yesno_f1_no")),
    ("BioASQ ideal answers (ROUGE)", "bioasq.", lambda leaf: leaf.startswith("rouge")),
    ("PubMedQA", "pubmedqa.", lambda leaf: True),
    ("LM bits per byte (lower is better)", "lm.", lambda leaf: leaf.endswith(".bits_per_byte")),
)
SHORT = {"yesno_accuracy": "yes/no\nacc", "yesno_macro_f1": "yes/no\nmacro-F1",
         "factoid_strict_accuracy": "factoid\nstrict", "factoid_lenient_accuracy": "factoid\nlenient",
         "factoid_mrr": "factoid\nMRR", "list_mean_precision": "list\nP", "list_mean_recall": "list\nR",
         "list_mean_f1": "list\nF1", "rouge2_recall": "ROUGE-2\nR", "rouge2_f1": "ROUGE-2\nF1",
         "rougesu4_recall": "ROUGE-SU4\nR", "rougesu4_f1": "ROUGE-SU4\nF1", "accuracy": "accuracy",
         "macro_f1": "macro-F1"}
BASELINE_STYLES = ("--", ":", "-.")


def panels(report: dict) -> list[tuple[str, list[str]]]:
    """``[(title, metrics)]`` of the task groups that have data, in a fixed order."""
    metrics = sorted({k for m in report["models"] for k in m["scores"]})
    out = []
    for title, prefix, keep in GROUPS:
        chosen = [k for k in metrics if k.startswith(prefix) and keep(k[len(prefix):])]
        if chosen:
            out.append((title, chosen))
    return out


def _label(metric: str) -> str:
    leaf = metric.split(".", 1)[1]
    if metric.startswith("lm."):
        return leaf.rsplit(".", 1)[0].replace("bioasq_", "BioASQ ").replace("_", " ")
    return SHORT.get(leaf, leaf)


def _draw(ax, title: str, metrics: list[str], report: dict, colors: list[str]) -> None:
    models = report["models"]
    k = len(models)
    width = 0.8 / k
    top = 0.0
    for i, m in enumerate(models):
        xs = [j + (i - (k - 1) / 2) * width for j in range(len(metrics))]
        cis = [m.get("metrics", {}).get(metric) or {"value": m["scores"].get(metric)} for metric in metrics]
        vals = [c["value"] if c.get("value") is not None else 0.0 for c in cis]
        lo = [v - c["ci_low"] if c.get("ci_low") is not None else 0.0 for v, c in zip(vals, cis)]
        hi = [c["ci_high"] - v if c.get("ci_high") is not None else 0.0 for v, c in zip(vals, cis)]
        bars = ax.bar(xs, vals, width * 0.92, yerr=[lo, hi], capsize=2, color=colors[i % len(colors)],
                      error_kw={"elinewidth": 0.8, "ecolor": "#333333"}, label=m["name"])
        for bar, x, v, c, e in zip(bars, xs, vals, cis, hi):
            if c.get("contaminated"):
                bar.set_hatch("///")
                bar.set_edgecolor("black")
            if v == 0:  # a zero score: a mark on the axis, so the bar is not just missing
                ax.plot([x], [0], marker="_", markersize=10, markeredgewidth=2.5, color=colors[i % len(colors)])
            text = f"{v:.2g}" + (" contam." if c.get("contaminated") else "")
            ax.annotate(text, (x, v + e), xytext=(0, 2), textcoords="offset points", ha="center", va="bottom",
                        fontsize=6.5, rotation=90 if k > 1 or len(metrics) > 4 else 0)
            top = max(top, v + e)
    mine = [b for b in report.get("baselines", []) if any(k in b["metrics"] for k in metrics)]
    for b, style, color in zip(mine, BASELINE_STYLES, ("black", "dimgray", "darkred")):
        for j, metric in enumerate(metrics):
            ci = b["metrics"].get(metric)
            if ci is not None:
                ax.hlines(ci["value"], j - 0.45, j + 0.45, colors=color, linestyles=style, linewidth=1.2,
                          label=f"baseline: {b['name']}" if j == min(i for i, mm in enumerate(metrics)
                                                                   if mm in b["metrics"]) else None)
    bounded = not metrics[0].startswith("lm.")
    ax.set_ylim(0, max(1.0, top * 1.25) if bounded else max(top * 1.3, 0.1))
    ax.set_xticks(range(len(metrics)), [_label(x) for x in metrics], fontsize=8)
    ax.set_xlim(-0.6, len(metrics) - 0.4)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    extra = [(h, lab) for h, lab in zip(handles, labels) if lab.startswith("baseline")]
    if extra:
        ax.legend(*zip(*extra), fontsize=7, loc="upper right", frameon=False)


def figure(report: dict):
    """The matplotlib Figure of report.png (None when there is nothing to draw)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = panels(report)
    if not groups:
        return None
    n = len(groups)
    cols = 1 if n == 1 else 2
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6.5 * cols, 3.9 * rows + 0.6), squeeze=False, layout="constrained")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (title, metrics) in zip(axes.flat, groups):
        _draw(ax, title, metrics, report, colors)
    for ax in list(axes.flat)[n:]:
        fig.delaxes(ax)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[i % len(colors)]) for i in range(len(report["models"]))]
    labels = [m["name"] for m in report["models"]]
    if any(c.get("contaminated") for m in report["models"] for c in m.get("metrics", {}).values()):
        handles.append(plt.Rectangle((0, 0), 1, 1, facecolor="white", edgecolor="black", hatch="///"))
        labels.append("contaminated (set not removed from training data)")
    fig.legend(handles, labels, loc="outside lower center", ncols=min(4, len(labels)), fontsize=9, frameon=False)
    boot = report.get("bootstrap", {})
    fig.suptitle(f"Model comparison on the same evaluation sets — bars: score, whiskers: 95 % bootstrap interval "
                 f"({boot.get('resamples', 0)} resamples)", fontsize=10)
    return fig


def plot(report: dict, path: str | Path) -> None:
    import matplotlib.pyplot as plt

    fig = figure(report)
    if fig is None:
        return
    fig.savefig(path, dpi=100)
    plt.close(fig)
