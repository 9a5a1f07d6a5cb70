"""report.md: which models (checkpoint, tokenizer), then one table of every metric by model."""

from __future__ import annotations

from .scores import is_per_token, lower_is_better

PER_TOKEN_MARK = "†"


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.4g}"


def _best(metric: str, values: list) -> float | None:
    known = [v for v in values if v is not None]
    if len(set(known)) < 2:  # one model, or all equal: nothing stands out
        return None
    return min(known) if lower_is_better(metric) else max(known)


def comparability_note(models: list[dict]) -> str:
    groups = sorted({m["tokenizer"]["group"] for m in models})
    if len(groups) == 1:
        return (f"All models share tokenizer {groups[0]}, so per-token metrics ({PER_TOKEN_MARK}: cross-entropy, "
                "perplexity) compare directly.")
    return (f"**{PER_TOKEN_MARK} Per-token metrics (cross-entropy, perplexity) are NOT comparable across tokenizers**: "
            f"the models use {len(groups)} different tokenizers ({', '.join(groups)}), which cut the same text into "
            "different numbers of tokens. Compare them only within a tokenizer group; use **bits per byte** to "
            "compare all models. No best value is marked on those rows.")


def render(report: dict) -> str:
    models = report["models"]
    names = [m["name"] for m in models]
    lines = ["# Model comparison", "",
             "| model | path | kind | checkpoint | tokenizer | vocab |", "|---|---|---|---|---|---|"]
    for m in models:
        t = m["tokenizer"]
        lines.append(f"| {m['name']} | `{m['model']}` | {m['kind']} | {m['tag'] or '—'} | {t['group']}: `{t['path']}` "
                     f"| {t['vocab_size']} |")
    single_group = len({m["tokenizer"]["group"] for m in models}) == 1
    metrics = sorted({k for m in models for k in m["scores"]})
    lines += ["", comparability_note(models), "",
              "| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for metric in metrics:
        values = [m["scores"].get(metric) for m in models]
        per_token = is_per_token(metric)
        best = _best(metric, values) if single_group or not per_token else None
        cells = []
        for m, v in zip(models, values):
            cell = _fmt(v)
            if per_token and not single_group and v is not None:
                cell += f" ({m['tokenizer']['group']})"
            cells.append(f"**{cell}**" if best is not None and v == best else cell)
        label = metric + (f" {PER_TOKEN_MARK}" if per_token else "")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    cfg = report["config"]
    lines += ["", "Higher is better except cross-entropy, perplexity and bits per byte; a row's best value is bold.",
              "BioASQ scores follow the official Phase-B evaluator; submissions are in `submissions/`.",
              (f"Tasks: {', '.join(cfg['tasks'])}; device {cfg['device']}, dtype {cfg['dtype']}. "
               "Full configuration and package versions: `report.json`, `config.json`, `versions.json`."), ""]
    return "\n".join(lines)
