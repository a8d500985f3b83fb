"""Fusing a question's keyword and vector rankings into one.

Hybrid search asks both rankers for their best ``CANDIDATES_PER_RANKER`` chunks
(``search.retrieval``) and fuses them here with a **normalised-score convex
combination**: each ranking's scores are mapped onto 0..1 (its best chunk 1, its last
0; a chunk it did not return counts 0), and a chunk's fused score is the weighted
mean of the two, with weights set per question from how sure each ranker is.

Why not reciprocal-rank fusion (RRF, what OPAA used before): RRF looks at ranks only,
so a ranker whose first result stands far above the rest counts as much as one whose
fifty results are all alike, and a weak ranker drags a strong one down. On the
evaluation matrix it lost up to 0.077 nDCG@10 to the keyword ranker alone where the
vector side was weak (bench/RESULTS.md). Scores keep that information: a keyword
ranking where the right page holds every rare word of the question scores it far above
the rest, and after normalisation it stays on top unless the vector side agrees on
something else.

How sure a ranker is (its **confidence**, 0..1): how far its best chunk stands above
its typical candidate, i.e. 1 minus the mean normalised score of its candidates. A
ranking whose best result stands out (a name, a rare code, every attribute asked for)
has most candidates far below it, so a mean near 0 and a confidence near 1; a flat
ranking (nothing matches well: an English question against German text for MiniLM, a
German question against English pages for BM25) has a mean near 1 and little say.

The organization's fusion weights (``search.answer_settings.fusion_weights``) multiply
the two confidences: 1:1 (the default) leaves the choice to the question, 2:1 trusts
keyword twice as much, 1:0 turns the vector side off.

**Coverage** tempers the mean (``ingestion.coverage``): each candidate's share of the
question's idf-weighted words. A candidate holding less of the question than the best-
covering candidate loses that difference as a factor: ``fused * (1 - (best - own))``.
Why: in a collection of look-alike sections (thirty companies' password policies) the
vector ranking reads the topic, not the company's name, and its near-equal scores spread
over 0..1 by normalisation can lift another company's section above the one asked for;
the keyword ranking has the right one first, but with a small lead. The name is the
question's rarest word; the chunk without it covers less and falls back. Where every
candidate covers the question alike (the words are everywhere, or nowhere: a German
question over English pages) the factor is the same for all and changes nothing.
Measured on the evaluation matrix (bench/RESULTS.md, "Coverage in fusion").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ingestion.index import Ranked


def reciprocal_rank_fusion(
    *rankings: Sequence[Ranked], k: int = 60, weights: Sequence[float] | None = None
) -> list[Ranked]:
    """Fuse rankings: each chunk scores the sum of weight / (k + rank) over the rankings.

    k=60 is Cormack et al.'s (2009) constant: it damps the very top ranks so that
    agreement between rankers wins over one ranker's first place. Kept for comparison
    (``bench/fusion_offline.py``); hybrid search uses ``score_fusion``.
    """
    weights = weights or [1.0] * len(rankings)
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            fused[item.chunk_id] = fused.get(item.chunk_id, 0.0) + weight / (k + rank)
    return _ordered(fused)


def _ordered(fused: dict[int, float]) -> list[Ranked]:
    """Best first; equal scores by chunk id, so the order never depends on dict order."""
    ordered = sorted(fused.items(), key=lambda pair: (-pair[1], pair[0]))
    return [Ranked(chunk_id, score) for chunk_id, score in ordered]


# The candidates each ranker is asked for (``search.retrieval.CANDIDATES_PER_RANKER``).
DEPTH = 50


def normalised(ranking: Sequence[Ranked], *, depth: int = DEPTH) -> dict[int, float]:
    """Each chunk's score mapped onto 0..1: the best 1, the floor 0 (min-max).

    The floor is the last candidate's score; when the ranker returned fewer than the
    ``depth`` asked for, every other chunk scored nothing (BM25 0: none of the words),
    so the floor is 0. A ranking of equal scores gives each chunk 1.
    """
    if not ranking:
        return {}
    best, floor = ranking[0].score, ranking[-1].score
    if len(ranking) < depth:
        floor = min(floor, 0.0)
    spread = best - floor
    return {r.chunk_id: (r.score - floor) / spread if spread > 0 else 1.0 for r in ranking}


def confidence(scores: dict[int, float], *, depth: int = DEPTH) -> float:
    """How far a ranking's best chunk stands above its typical candidate: 1 - the mean
    normalised score over the ``depth`` candidates asked for (those not returned count
    0). 0..1: an empty ranking 0, one far ahead of the rest near 1, a flat one near 0."""
    if not scores:
        return 0.0
    return max(0.0, 1.0 - sum(scores.values()) / max(depth, len(scores)))


def score_fusion(
    keyword: Sequence[Ranked],
    vector: Sequence[Ranked],
    *,
    weights: tuple[float, float] = (1.0, 1.0),
    depth: int = DEPTH,
    coverage: Mapping[int, float] | None = None,
) -> list[Ranked]:
    """The two rankings (of at most ``depth`` candidates each) fused: each chunk scores
    ``wk * keyword + wv * vector`` (scores normalised to 0..1, 0 where a ranker did not
    return it), with ``wk + wv = 1`` and
    each ``w`` proportional to the organization's weight times the ranker's confidence
    in this question. Fused scores lie in 0..1, best first (ties by chunk id).

    When neither ranker is sure (both confidences 0) the weights alone decide.

    ``coverage`` (chunk -> its share of the question's words, ``ingestion.coverage``)
    multiplies each fused score by ``1 - (best coverage - its coverage)``; a chunk
    missing from it counts 0. Not applied when the keyword side is weighted 0 (an
    organization that turned keyword search off asked for meaning alone).
    """
    keyword_scores = normalised(keyword, depth=depth)
    vector_scores = normalised(vector, depth=depth)
    keyword_weight = weights[0] * confidence(keyword_scores, depth=depth)
    vector_weight = weights[1] * confidence(vector_scores, depth=depth)
    if keyword_weight + vector_weight <= 0:
        keyword_weight, vector_weight = weights
    total = keyword_weight + vector_weight
    if total <= 0:
        return []
    keyword_weight, vector_weight = keyword_weight / total, vector_weight / total
    fused = {
        chunk_id: keyword_weight * keyword_scores.get(chunk_id, 0.0)
        + vector_weight * vector_scores.get(chunk_id, 0.0)
        for chunk_id in keyword_scores.keys() | vector_scores.keys()
    }
    if coverage and weights[0] > 0:
        best = max(coverage.get(chunk_id, 0.0) for chunk_id in fused)
        fused = {
            chunk_id: score * (1.0 - (best - coverage.get(chunk_id, 0.0)))
            for chunk_id, score in fused.items()
        }
    # Equal fused scores: a chunk a weighted ranker returned before one it did not (the
    # last of a ranking normalises to 0, as a chunk it did not return does), then by id.
    support = {
        chunk_id: (keyword_weight > 0 and chunk_id in keyword_scores)
        + (vector_weight > 0 and chunk_id in vector_scores)
        for chunk_id in fused
    }
    ordered = sorted(fused.items(), key=lambda pair: (-pair[1], -support[pair[0]], pair[0]))
    return [Ranked(chunk_id, score) for chunk_id, score in ordered]
