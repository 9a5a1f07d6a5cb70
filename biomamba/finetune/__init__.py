"""Fine-tuning on BioASQ with the training engine (``launcher/finetune.py``; docs/finetune.md).

* ``config`` -- :class:`FinetuneConfig`: the engine's config tree plus a ``finetune:`` section
* ``dev_split`` -- the dev split carved from the training questions by a hash of their ids
* ``batches`` -- deterministic, DP-sharded, resumable micro-batches of answer-masked examples
* ``dev_eval`` -- dev loss and official BioASQ scores of the live model (the engine's ``dev_eval`` hook)
* ``build`` / ``run`` -- config -> tokenizer, data, dev evaluator -> :func:`biomamba.train.trainer.train`
"""
