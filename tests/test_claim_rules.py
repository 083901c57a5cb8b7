"""Verdict rules shared by several claims (suite/claims/base.py)."""

from __future__ import annotations

import pytest

from suite.claims import claim_by_id
from suite.claims.base import Verdict, graded, verdict_of_halves
from suite.claims.evaluate import Evaluated
from suite.claims.priors import prior_of


@pytest.mark.parametrize("halves, word", [
    (("shown", "shown"), "supported"),
    (("refuted", "shown"), "conditional"),
    (("not shown", "shown"), "conditional"),
    (("refuted", "not shown"), "refuted"),
    (("not shown", "not shown"), "inconclusive"),
])
def test_a_sentence_with_two_promises_holds_where_each_half_does(halves, word):
    assert verdict_of_halves(*halves) == word


def test_a_half_is_named_in_the_vocabulary():
    with pytest.raises(ValueError, match="half must be one of"):
        verdict_of_halves("shown", "maybe")


def test_g6_and_m2_judge_the_clipping_sentence_alike():
    g6, m2 = claim_by_id("G6"), claim_by_id("M2")
    assert g6.article.split()[:2] == m2.article.split()[:2] == ["Gradient", "clipping"]
    assert g6.expected == m2.expected
    assert prior_of("G6").verdict == prior_of("M2").verdict


def test_a_profile_can_expect_another_verdict_and_evaluation_uses_it():
    l1 = claim_by_id("L1")
    assert l1.expected_for("quick") == "supported" and l1.expected_for("full") == "conditional"
    verdict = Verdict("L1", "conditional", "s", 0.5, None, 10)
    assert Evaluated(l1, verdict, None, l1.expected_for("full")).matches_expected
    assert not Evaluated(l1, verdict, None).matches_expected   # the claim's own expectation: supported


@pytest.mark.parametrize("as_stated,in_part,word", [
    (True, True, "supported"), (True, False, "supported"), (False, True, "conditional"), (False, False, "refuted"),
])
def test_the_graded_rule(as_stated, in_part, word):
    assert graded(as_stated, in_part) == word
