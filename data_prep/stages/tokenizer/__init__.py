"""tokenizer: a SentencePiece BPE trained on a sample of the train split (train_tokenizer),
or GPT-NeoX-20B's tokenizer.json fetched reproducibly (neox_tokenizer).
"""
