"""report.md: the models, every metric with its 95 % interval, reference rows, and paired differences.

* Each cell is ``value [ci_low, ci_high] n=N`` (N questions or documents).  A metric on an evaluation
  set that was not removed from the model's training data reads ``contaminated (…)``, never as a
  clean number.
* A value is bold only where that model beats *every* other model with a paired-bootstrap interval
  that excludes zero; the paired-differences table says so per pair and metric.
"""

from __future__ import annotations

from .scores import is_per_token

PER_TOKEN_MARK = "†"
REFERENCE_METRICS = ("bioasq.yesno_accuracy", "bioasq.yesno_macro_f1", "pubmedqa.accuracy", "pubmedqa.macro_f1")


def _num(value) -> str:
    return "—" if value is None else f"{value:.4g}"


def fmt_interval(ci: dict | None) -> str:
    if ci is None or ci.get("value") is None:
        return "—"
    text = _num(ci["value"])
    if ci.get("ci_low") is not None:
        text += f" [{_num(ci['ci_low'])}, {_num(ci['ci_high'])}]"
    if ci.get("n") is not None:
        text += f" n={ci['n']}"
    return f"contaminated ({text})" if ci.get("contaminated") else text


def comparability_note(models: list[dict]) -> str:
    groups = sorted({m["tokenizer"]["group"] for m in models})
    if len(groups) == 1:
        return (f"All models share tokenizer {groups[0]}, so per-token metrics ({PER_TOKEN_MARK}: cross-entropy, "
                "perplexity) compare directly.")
    return (f"**{PER_TOKEN_MARK} Per-token metrics (cross-entropy, perplexity) are NOT comparable across tokenizers**: "
            f"the models use {len(groups)} different tokenizers ({', '.join(groups)}), which cut the same text into "
            "different numbers of tokens. Compare them only within a tokenizer group; use **bits per byte** to "
            "compare all models. No best value is marked on those rows.")


def _winner(metric: str, models: list[dict], comparisons: list[dict]) -> str | None:
    """The model that is significantly better than every other one on ``metric``, if any."""
    if len(models) < 2:
        return None
    rows = [c for c in comparisons if c["metric"] == metric]
    for m in models:
        mine = [c for c in rows if m["name"] in (c["a"], c["b"])]
        if len(mine) == len(models) - 1 and all(c["better"] == m["name"] and not c["contaminated"] for c in mine):
            return m["name"]
    return None


def _contamination_lines(models: list[dict]) -> list[str]:
    lines = ["## Decontamination", "",
             "Whether each evaluation set was removed from the model's training data (read from the training "
             "data's shard manifests). Metrics on a set that was not removed are printed as *contaminated*.", "",
             "| model | set | status | why |", "|---|---|---|---|"]
    for m in models:
        for name, c in m.get("contamination", {}).items():
            lines.append(f"| {m['name']} | {name} | **{c['status']}** | {c['reason']} |")
    return lines + [""] if len(lines) > 5 else []


def _reference_lines(report: dict) -> list[str]:
    models, baselines = report["models"], report.get("baselines", [])
    cols = [k for k in REFERENCE_METRICS if any(k in m.get("metrics", {}) for m in models)]
    if not cols or not baselines:
        return []
    lines = ["## Against chance and majority baselines (same questions)", "",
             "| row | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for m in models:
        lines.append(f"| {m['name']} | " + " | ".join(fmt_interval(m["metrics"].get(k)) for k in cols) + " |")
    for b in baselines:
        lines.append(f"| *baseline: {b['task']} {b['name']}* | "
                     + " | ".join(fmt_interval(b["metrics"].get(k)) for k in cols) + " |")
    return lines + ["", "A model is better than a baseline only where its interval lies above the baseline's value.",
                    ""]


def comparison_lines(report: dict) -> list[str]:
    comps = report.get("comparisons", [])
    if not comps:
        return []
    lines = ["## Paired differences (same questions / documents; paired bootstrap)", "",
             "| metric | A − B | difference [95 % CI] | McNemar p | verdict |", "|---|---|---|---|---|"]
    for c in sorted(comps, key=lambda c: (c["metric"], c["a"], c["b"])):
        d = c["difference"]
        p = f"{c['mcnemar']['p_value']:.3g}" if "mcnemar" in c else ""
        if c["contaminated"]:
            verdict = "contaminated: no verdict"
        elif c["better"]:
            verdict = f"**{c['better']}** better (interval excludes 0)"
        else:
            verdict = "no clear difference (interval includes 0)"
        lines.append(f"| {c['metric']} | {c['a']} − {c['b']} | {fmt_interval({**d, 'n': d['n']})} | {p} | {verdict} |")
    return lines + [""]


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
    boot = report.get("bootstrap", {})
    lines += ["", comparability_note(models), "",
              f"Values are `value [95 % bootstrap interval] n=questions or documents` ({boot.get('resamples', 0)} "
              f"resamples, seed {boot.get('seed', 0)}).", "",
              "| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    comparisons = report.get("comparisons", [])
    for metric in metrics:
        per_token = is_per_token(metric)
        winner = _winner(metric, models, comparisons) if single_group or not per_token else None
        cells = []
        for m in models:
            ci = m.get("metrics", {}).get(metric) or ({"value": m["scores"][metric]} if metric in m["scores"] else None)
            cell = fmt_interval(ci)
            if per_token and not single_group and ci is not None:
                cell += f" ({m['tokenizer']['group']})"
            cells.append(f"**{cell}**" if winner == m["name"] else cell)
        label = metric + (f" {PER_TOKEN_MARK}" if per_token else "")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    cfg = report["config"]
    lines += ["", "Higher is better except cross-entropy, perplexity and bits per byte. A value is bold only where the "
              "model beats every other model with a paired interval that excludes zero.",
              "BioASQ scores follow the official Phase-B evaluator; submissions are in `submissions/`.", ""]
    lines += _reference_lines(report) + comparison_lines(report) + _contamination_lines(models)
    lines += [(f"Tasks: {', '.join(cfg['tasks'])}; device {cfg['device']}, dtype {cfg['dtype']}. "
               "Full configuration and package versions: `report.json`, `config.json`, `versions.json`."), ""]
    return "\n".join(lines)
