"""Token-string view of a tokenizer, and the row mapping between two vocabularies.

Continued pretraining with a different tokenizer keeps the embedding (and untied head)
rows of tokens whose *string* exists in both vocabularies ("the overlap") and
initializes the others. Strings are compared exactly as the tokenizers store them
(SentencePiece pieces such as ``▁the`` and ``<0x0A>``, byte-level BPE tokens such as
``Ġthe``), so a SentencePiece model and its own ``tokenizer.json`` export map fully,
while unrelated tokenizer families overlap only where their strings coincide.
"""

from __future__ import annotations


def token_strings(tok) -> list[str | None]:
    """String of every id ``0 .. vocab_size-1`` of a :class:`biomamba.tokenizer.Tokenizer` (None for holes)."""
    if tok.kind == "sentencepiece":
        return [tok.id_to_piece(i) for i in range(tok.vocab_size)]
    from tokenizers import Tokenizer

    raw = Tokenizer.from_file(str(tok.path))
    return [raw.id_to_token(i) for i in range(tok.vocab_size)]


def same_vocabulary(a: list[str | None], b: list[str | None]) -> bool:
    return a == b


def overlap_mapping(ours: list[str | None], source: list[str | None], source_rows: int) -> dict[int, int]:
    """{our id: source id} for every token string present in both (source ids below ``source_rows``)."""
    index = {}
    for j, s in enumerate(source[:source_rows]):
        if s is not None:
            index.setdefault(s, j)
    return {i: index[s] for i, s in enumerate(ours) if s is not None and s in index}
