"""Score fusion: normalised scores, weighted per question by each ranker's confidence."""

from __future__ import annotations

import pytest

from ingestion.index import Ranked
from search.fusion import confidence, normalised, reciprocal_rank_fusion, score_fusion


def ranking(*scores: tuple[int, float]) -> list[Ranked]:
    return [Ranked(chunk_id, score) for chunk_id, score in scores]


# Keyword: one chunk holds the question's rare words, the rest share a common one.
SURE = ranking((1, 20.0), *((100 + i, 2.0 - i * 0.01) for i in range(49)))
# Vector: fifty chunks of nearly the same similarity, none standing out.
FLAT = ranking(*((200 + i, 0.50 - i * 0.001) for i in range(50)))


def ids(ranked: list[Ranked]) -> list[int]:
    return [r.chunk_id for r in ranked]


def test_scores_are_normalised_best_one_floor_zero():
    three = ranking((1, 9.0), (2, 5.0), (3, 1.0))
    # All the candidates asked for: the last is the floor.
    assert normalised(three, depth=3) == {1: 1.0, 2: 0.5, 3: 0.0}
    # Fewer than asked: every other chunk scored 0 (BM25 found none of the words).
    assert normalised(three, depth=50) == pytest.approx({1: 1.0, 2: 5 / 9, 3: 1 / 9})
    assert normalised(ranking((1, 3.0), (2, 3.0)), depth=2) == {1: 1.0, 2: 1.0}
    assert normalised([]) == {}


def test_a_ranking_whose_best_stands_out_is_sure_and_a_flat_one_is_not():
    assert confidence(normalised(SURE)) > 0.9
    assert confidence(normalised(FLAT)) < 0.55
    assert confidence(normalised(ranking((1, 1.0)))) > 0.9  # the only match of fifty asked
    assert confidence({}) == 0.0


def test_a_sure_ranker_is_not_dragged_down_by_a_flat_one():
    fused = score_fusion(SURE, FLAT)
    assert ids(fused)[0] == 1
    # Reciprocal-rank fusion ranks the vector side's first chunk level with it.
    rrf = reciprocal_rank_fusion(SURE, FLAT)
    assert rrf[0].score == rrf[1].score


def test_agreement_wins_when_both_are_equally_sure():
    keyword = ranking((1, 10.0), (2, 9.0), *((100 + i, 1.0) for i in range(10)))
    vector = ranking((3, 0.9), (2, 0.85), *((200 + i, 0.1) for i in range(10)))
    assert ids(score_fusion(keyword, vector))[0] == 2


def test_fused_scores_lie_between_zero_and_one_best_first():
    fused = score_fusion(SURE, FLAT)
    scores = [r.score for r in fused]
    assert scores == sorted(scores, reverse=True)
    assert scores[-1] >= 0.0
    assert scores[0] <= 1.0
    assert len(fused) == len(SURE) + len(FLAT)


def test_the_organizations_weights_multiply_the_confidences():
    keyword = ranking((1, 10.0), (2, 5.0), (3, 1.0))
    vector = ranking((3, 0.9), (2, 0.5), (1, 0.1))
    # A weight of 0 turns a ranker off: the other's order, then the chunks only it had.
    assert ids(score_fusion(keyword, vector, weights=(1.0, 0.0))) == [1, 2, 3]
    assert ids(score_fusion(keyword, vector, weights=(0.0, 1.0))) == [3, 2, 1]
    only_keyword = score_fusion(SURE, FLAT, weights=(1.0, 0.0))
    assert ids(only_keyword)[: len(SURE)] == ids(SURE)
    assert ids(score_fusion(keyword, vector, weights=(0.0, 0.0))) == []


@pytest.mark.parametrize("empty_side", ["keyword", "vector"])
def test_one_empty_ranking_leaves_the_others_order(empty_side):
    keyword, vector = (SURE, []) if empty_side == "vector" else ([], FLAT)
    fused = score_fusion(keyword, vector)
    assert ids(fused) == ids(keyword or vector)


def test_equal_scores_are_ordered_by_chunk_id():
    keyword = ranking((5, 1.0), (4, 1.0))
    vector = ranking((7, 0.3), (6, 0.3))
    assert ids(score_fusion(keyword, vector)) == [4, 5, 6, 7]


def test_coverage_puts_the_chunk_with_the_questions_rare_word_first():
    # Thirty companies' password policies: the vector side reads the topic, not the
    # name, and ranks another company's section first by a hair; keyword has the asked
    # company's section first with a small lead. Only chunk 1 holds the company's name.
    keyword = ranking(
        (1, 11.9), (2, 9.8), (3, 9.4), *((100 + i, 9.0 - i * 0.04) for i in range(47))
    )
    vector = ranking((2, 0.740), (3, 0.731), *((200 + i, 0.72 - i * 0.0025) for i in range(48)))
    assert ids(score_fusion(keyword, vector))[0] == 2  # the look-alike, without coverage
    coverage = {1: 0.9, 2: 0.5, 3: 0.5}
    fused = score_fusion(keyword, vector, coverage=coverage)
    assert ids(fused)[0] == 1
    # Candidates that cover the question alike keep the order fusion gave them.
    alike = {c: 0.5 for c in ids(fused)}
    assert ids(score_fusion(keyword, vector, coverage=alike)) == ids(score_fusion(keyword, vector))
    # An organization that turned keyword search off asked for meaning alone.
    assert ids(score_fusion(keyword, vector, weights=(0.0, 1.0), coverage=coverage))[0] == 2
