"""Grouping questions by meaning: agglomerative clustering of their embeddings.

Average linkage over cosine distance (scipy), cut at ``1 - SIMILARITY``: two groups
join while the mean similarity between their members is at least ``SIMILARITY``. The
method has no randomness, and the input is always ordered by question id, so the same
questions give the same groups on every run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

# Mean cosine similarity a group's questions keep with each other. With all-MiniLM-L6-v2,
# paraphrases of one question score 0.53 to 0.94 on the known set of
# tests/analytics/test_clustering.py, and questions about different things of one
# domain (leave vs. hotel limits) up to 0.44: 0.5 lies between.
SIMILARITY = 0.5


@dataclass(frozen=True)
class Cluster:
    members: list[int]  # indexes into the input, ascending
    medoid: int  # the member most similar to the others (the representative)
    centroid: np.ndarray  # unit length


def normalized(vectors: Sequence[Sequence[float]]) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float64)
    if matrix.size == 0:
        return matrix.reshape(0, 0)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def clusters_of(
    vectors: Sequence[Sequence[float]], *, similarity: float = SIMILARITY
) -> list[Cluster]:
    """The groups of ``vectors`` (in input order), largest first; ties keep the order
    of their first member. The medoid is the member with the highest mean similarity to
    its group (the earliest on a tie)."""
    matrix = normalized(vectors)
    count = len(matrix)
    if count == 0:
        return []
    if count == 1:
        labels = np.array([1])
    else:
        tree = linkage(matrix, method="average", metric="cosine")
        labels = fcluster(tree, t=1 - similarity, criterion="distance")
    groups: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        groups.setdefault(int(label), []).append(index)
    clusters = []
    for members in groups.values():
        block = matrix[members]
        mean_similarity = (block @ block.T).mean(axis=1)
        medoid = members[int(np.argmax(mean_similarity))]
        centroid = block.mean(axis=0)
        norm = np.linalg.norm(centroid)
        clusters.append(Cluster(members, medoid, centroid / norm if norm else centroid))
    return sorted(clusters, key=lambda c: (-len(c.members), c.members[0]))


def similarity_to(matrix: np.ndarray, centroid: Sequence[float]) -> np.ndarray:
    """Cosine similarity of each (unit) row of ``matrix`` to ``centroid``."""
    target = normalized([centroid])[0]
    return matrix @ target if len(matrix) else np.zeros(0)
