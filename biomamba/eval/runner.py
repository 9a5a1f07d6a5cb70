"""One entry point to evaluate one model on the configured tasks: :func:`evaluate_model`.

Pure with respect to the model: it only calls the
:class:`~biomamba.eval.scoring.CausalLMScorer`, so the comparison launcher and
the fine-tuning loop (dev-set model selection) call it the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from biomamba.eval.answering import answer_bioasq, answer_pubmedqa
from biomamba.eval.bioasq.data import load_bioasq
from biomamba.eval.bioasq.scorer import score_phase_b
from biomamba.eval.bioasq.submission import answer_to_json, write_submission
from biomamba.eval.config import EvalConfig
from biomamba.eval.lm_metrics import bioasq_texts, evaluate_texts, read_jsonl_texts
from biomamba.eval.prompting import TokenizerLike
from biomamba.eval.pubmedqa.data import load_ground_truth, load_pubmedqa
from biomamba.eval.pubmedqa.metrics import score_pubmedqa
from biomamba.eval.scoring import CausalLMScorer


def _pubmedqa(model: CausalLMScorer, tokenizer: TokenizerLike, cfg: EvalConfig, loads: list) -> dict:
    items, report = load_pubmedqa(cfg.pubmedqa_data)
    loads.append(report.to_dict())
    truth = load_ground_truth(cfg.pubmedqa_ground_truth)
    by_pmid = {i.pmid: i for i in items}
    absent = [p for p in truth if p not in by_pmid]
    if absent:
        raise ValueError(
            f"{cfg.pubmedqa_data} lacks {len(absent)} ground-truth PMIDs (e.g. {absent[:3]}); "
            "give the file holding the test questions (ori_pqal.json)"
        )
    predictions = answer_pubmedqa(model, tokenizer, [by_pmid[p] for p in truth], cfg.decoding)
    # Per-question outcomes: the report's bootstrap intervals, paired tests and baselines resample them.
    rows = [{"id": p, "truth": truth[p], "prediction": predictions[p]} for p in truth]
    return {**score_pubmedqa(predictions, truth), "per_question": rows}


def evaluate_model(
    model: CausalLMScorer,
    tokenizer: TokenizerLike,
    cfg: EvalConfig,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict:
    """Run ``cfg.tasks`` on ``model``; returns a JSON-ready dict of scores, load reports and timings.

    ``progress(task, done, total)`` is called as BioASQ questions are answered (progress bars).
    """
    cfg.validate()
    result: dict = {"model": model.name, "loads": [], "seconds": {}}
    questions = None
    if cfg.bioasq_gold:
        questions, report = load_bioasq(cfg.bioasq_gold, require_answers=True)
        result["loads"].append(report.to_dict())

    if "bioasq" in cfg.tasks:
        t0 = time.perf_counter()
        tick = (lambda done, total: progress("bioasq", done, total)) if progress else None
        answers = answer_bioasq(model, tokenizer, questions, cfg.decoding, tick)
        if cfg.submission_out:
            submitted = write_submission(answers, cfg.submission_out)["questions"]
        else:
            submitted = [answer_to_json(a) for a in answers]
        scored = score_phase_b(questions, {q["id"]: q for q in submitted}, cfg.missing, cfg.rouge_stemmer)
        # Per-question rows and gold yes/no labels: the report's intervals, paired tests and baselines.
        result["bioasq"] = scored.to_dict(per_question=True)
        result["bioasq"]["gold_yesno"] = {q.id: q.exact_answer for q in questions if q.type == "yesno"}
        result["seconds"]["bioasq"] = time.perf_counter() - t0

    if "pubmedqa" in cfg.tasks:
        t0 = time.perf_counter()
        result["pubmedqa"] = _pubmedqa(model, tokenizer, cfg, result["loads"])
        result["seconds"]["pubmedqa"] = time.perf_counter() - t0

    if "lm" in cfg.tasks:
        t0 = time.perf_counter()
        sets = bioasq_texts(questions) if questions is not None else {}
        for name, path in cfg.lm_texts.items():
            sets[name] = read_jsonl_texts(path, limit=cfg.lm_max_texts)
        result["lm"] = {
            name: evaluate_texts(
                model.device_logits,
                tokenizer,
                texts[: cfg.lm_max_texts] if cfg.lm_max_texts else texts,
                max_length=cfg.lm_max_length,
                batch_size=cfg.lm_batch_size,
            )
            for name, texts in sets.items()
            if texts
        }
        result["seconds"]["lm"] = time.perf_counter() - t0
    return result
