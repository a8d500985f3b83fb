"""Retrieval quality on a BEIR-format dataset: load it, index it, rank it three ways, score.

``evaluation_run`` ingests the corpus into a throwaway organization through the real
upload and indexing pipeline, ranks every judged query with the retrieval functions the
product uses (keyword, vector, and their reciprocal-rank fusion), and scores the
document rankings. The metric functions are pure and follow the usual BEIR/trec_eval
definitions: graded gain taken as the qrels score, log2 discount.

It creates an organization (tenants), ingests (ingestion) and ranks (search), so it
lives in ``opaa``, the layer that composes them. The modules: ``dataset`` (reading a
BEIR dataset), ``metrics`` (pure), ``scoring`` (ranking and scoring every query) and
``run`` (the run and its report). ``manage.py evaluate`` runs it.
"""

from opaa.evaluation.dataset import (
    CorpusEntry,
    Dataset,
    DatasetError,
    dataset_limit,
    dataset_load,
    dataset_unanswerable_variant,
)
from opaa.evaluation.metrics import (
    documents_from_chunks,
    mrr_at_k,
    ndcg_at_k,
    percentile,
    recall_at_k,
)
from opaa.evaluation.run import EvaluationReport, corpus_ingest, evaluation_run, report_table
from opaa.evaluation.scoring import METHODS, MethodScores, Scored, methods_score

__all__ = [
    "METHODS",
    "CorpusEntry",
    "Dataset",
    "DatasetError",
    "EvaluationReport",
    "MethodScores",
    "Scored",
    "corpus_ingest",
    "dataset_limit",
    "dataset_load",
    "dataset_unanswerable_variant",
    "documents_from_chunks",
    "evaluation_run",
    "methods_score",
    "mrr_at_k",
    "ndcg_at_k",
    "percentile",
    "recall_at_k",
    "report_table",
]
