"""The metrics of a retrieval evaluation: they live in ``search.relevance`` (analytics'
golden questions score with them too, and analytics may not import ``opaa``)."""

from search.relevance import (
    documents_from_chunks,
    mrr_at_k,
    ndcg_at_k,
    percentile,
    recall_at_k,
)

__all__ = ["documents_from_chunks", "mrr_at_k", "ndcg_at_k", "percentile", "recall_at_k"]
