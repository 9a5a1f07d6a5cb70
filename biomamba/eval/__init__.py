"""Evaluation: BioASQ and PubMedQA (loading, prompting, answering, official scoring) and LM metrics.

Subpackages ``bioasq`` and ``pubmedqa`` hold each benchmark's file formats and
scoring; the modules here are shared:

* ``prompting`` -- prompts within a token budget, answer-only training examples
* ``qa_formats`` -- how answers are written as text (targets and parsing)
* ``finetune_examples`` -- BioASQ questions -> training examples and batches
* ``scoring`` -- the model interface (:class:`~biomamba.eval.scoring.CausalLMScorer`)
* ``adapters`` / ``model_loading`` -- MambaLM, Hugging Face models, model directories
* ``decoding`` -- :class:`~biomamba.eval.decoding.DecodingConfig`, how a model answers (eval, fine-tuning, ``answer``)
* ``answering`` -- model -> BioASQ answers / PubMedQA labels
* ``lm_stats`` -- the one nll/tokens/bytes accumulator -> loss, perplexity, bits per byte (also training and dev)
* ``lm_metrics`` -- cross-entropy, perplexity, bits per byte of texts
* ``runner`` -- :func:`~biomamba.eval.runner.evaluate_model`, driven by ``config.EvalConfig``
* ``model_dirs`` -- which checkpoint a model path means (``PATH@TAG``, a run's ``best.json``), its stored tokenizer
* ``model_args`` -- command-line options for which model runs where
* ``report`` -- ``launcher/evaluate.py``: several models on the same sets -> report.md/json/png
"""
