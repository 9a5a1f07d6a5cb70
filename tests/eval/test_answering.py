"""Decoding decisions on a bigram LM whose preferences are set by hand."""

from __future__ import annotations

import pytest

from biomamba.eval.answering import (
    answer_bioasq_question,
    answer_pubmedqa,
    choose_option,
    factoid_candidates,
)
from biomamba.eval.bioasq.data import Question, Snippet
from biomamba.eval.decoding import DecodingConfig
from biomamba.eval.pubmedqa.data import PubMedQAItem
from biomamba.eval.scoring import CausalLMScorer

from .toy_models import BigramLM, WordTokenizer

WORDS = "yes no maybe p53 mdm2 brca1 Mdm2 adenine guanine Adenine ; cell Answer: Question: Context:".split()


@pytest.fixture
def toy():
    tok = WordTokenizer(WORDS)
    return tok, BigramLM(tok)


def question(qtype):
    return Question("q", "Is it ?", qtype, snippets=[Snippet("some context")])


def test_yesno_picks_the_more_likely_answer(toy):
    tok, lm = toy
    settings = DecodingConfig(max_prompt_tokens=64)
    lm.set_next("Answer:", {"no": 0.30, "yes": 0.25})
    a = answer_bioasq_question(CausalLMScorer(lm), tok, question("yesno"), settings)
    assert a.exact == "no" and a.extra["logprob"]["no"] > a.extra["logprob"]["yes"]
    lm.set_next("Answer:", {"no": 0.20, "yes": 0.25})
    assert answer_bioasq_question(CausalLMScorer(lm), tok, question("yesno"), settings).exact == "yes"


def test_ties_go_to_the_first_option(toy):
    tok, lm = toy
    best, scores = choose_option(CausalLMScorer(lm), tok, tok.encode("Answer:"), ["yes", "no"])
    assert best == "yes" and scores["yes"] == scores["no"]


def test_factoid_candidates_are_ranked_distinct_names(toy):
    tok, lm = toy
    lm.set_next("Answer:", {"<eos>": 0.3, "p53": 0.25, "mdm2": 0.2, "Mdm2": 0.15, "brca1": 0.05})
    for word in ("p53", "mdm2", "Mdm2", "brca1"):
        lm.set_next(word, {"<eos>": 0.99})
    lm.set_next("mdm2", {"<eos>": 0.5, "p53": 0.4})  # "mdm2 p53 ..." is one (worse) continuation
    cands = factoid_candidates(CausalLMScorer(lm), tok, tok.encode("Answer:"), n=5, max_new_tokens=4)
    names = [name for name, _ in cands]
    # p53: .25*.99; Mdm2: .15*.99 beats mdm2: .2*.5 (same name case-insensitively); brca1: .05*.99
    assert names[:3] == ["p53", "Mdm2", "brca1"] and len(names) == 5
    assert len({n.lower() for n in names}) == len(names)  # case-insensitive duplicates removed
    scores = [s for _, s in cands]
    assert scores == sorted(scores, reverse=True)
    assert len(factoid_candidates(CausalLMScorer(lm), tok, tok.encode("Answer:"), n=2, max_new_tokens=4)) == 2


def test_list_answer_is_split_and_deduplicated(toy):
    tok, lm = toy
    lm.set_next("Answer:", {"adenine": 0.9})
    lm.set_next("adenine", {";": 0.9})
    lm.set_next(";", {"guanine": 0.9})
    lm.set_next("guanine", {"\n": 0.9})
    lm.set_next("\n", {"Adenine": 0.9})
    lm.set_next("Adenine", {"<eos>": 0.9})
    a = answer_bioasq_question(CausalLMScorer(lm), tok, question("list"), DecodingConfig(max_prompt_tokens=64))
    assert a.exact == ["adenine", "guanine"]


def test_ideal_answer_respects_the_length_cap(toy):
    tok, lm = toy
    lm.set_next("Answer:", {"cell": 0.9})
    lm.set_next("cell", {"cell": 0.9})
    settings = DecodingConfig(max_prompt_tokens=64, max_ideal_tokens=5)
    a = answer_bioasq_question(CausalLMScorer(lm), tok, question("summary"), settings)
    assert a.exact is None and a.ideal == "cell cell cell cell cell"


def test_pubmedqa_three_way_choice(toy):
    tok, lm = toy
    lm.set_next("Answer:", {"maybe": 0.4, "yes": 0.3, "no": 0.2})
    items = [PubMedQAItem("123", "Does it ?", ["ctx"])]
    assert answer_pubmedqa(CausalLMScorer(lm), tok, items, DecodingConfig(max_prompt_tokens=64)) == {"123": "maybe"}


def test_ideal_answers_can_be_skipped(toy):
    tok, lm = toy
    lm.set_next("Answer:", {"no": 0.9})
    settings = DecodingConfig(max_prompt_tokens=64, ideal_answers=False)
    a = answer_bioasq_question(CausalLMScorer(lm), tok, question("yesno"), settings)
    assert (a.exact, a.ideal) == ("no", "")
