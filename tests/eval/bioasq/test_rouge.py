"""ROUGE-SU4 on hand-computed cases; ROUGE-2 wiring to rouge-score."""

from __future__ import annotations

import pytest

from biomamba.eval.bioasq.rouge import IdealAnswerRouge, su_units


def test_su_units_window_is_four_skipped_words():
    tokens = list("abcdefg")
    units = su_units(tokens)
    assert ("a", "f") in units  # b c d e skipped: allowed
    assert ("a", "g") not in units  # five skipped: not allowed
    # pairs per first word: a:5 b:5 c:4 d:3 e:2 f:1 g:0 = 20, plus 7 unigrams
    assert sum(units.values()) == 27


def test_su4_by_hand():
    rouge = IdealAnswerRouge()
    # reference the/cat/sat: units the, cat, sat, (the,cat), (the,sat), (cat,sat) = 6
    # candidate the/cat: units the, cat, (the,cat) = 3, all hits
    s = rouge.rouge_su4(["The cat sat."], "the cat")
    assert s.recall == pytest.approx(3 / 6) and s.precision == 1.0 and s.f1 == pytest.approx(2 / 3)


def test_su4_clips_repeated_units():
    rouge = IdealAnswerRouge()
    # reference a a: units (a)x2 + (a,a)x1; candidate a: (a)x1 -> one hit
    s = rouge.rouge_su4(["a a"], "a")
    assert s.recall == pytest.approx(1 / 3) and s.precision == 1.0


def test_su4_no_overlap_and_empty():
    rouge = IdealAnswerRouge()
    assert rouge.rouge_su4(["alpha beta"], "gamma").f1 == 0.0
    assert rouge.rouge_su4(["alpha beta"], "").recall == 0.0


def test_rouge2_and_best_reference():
    rouge = IdealAnswerRouge()
    # 5 reference bigrams, 2 candidate bigrams, 2 hits
    s = rouge.rouge2(["the cat sat on the mat"], "the cat sat")
    assert (s.precision, s.recall) == (1.0, pytest.approx(0.4))
    best = rouge.rouge2(["dogs bark loudly", "the cat sat on the mat"], "the cat sat")
    assert best.recall == pytest.approx(0.4)
    su = rouge.rouge_su4(["dogs bark loudly", "the cat sat"], "the cat sat")
    assert su.f1 == 1.0


def test_stemming_is_optional():
    assert IdealAnswerRouge().rouge2(["cells divided"], "cell divides").f1 == 0.0
    assert IdealAnswerRouge(use_stemmer=True).rouge2(["cells divided"], "cell divides").f1 == 1.0
