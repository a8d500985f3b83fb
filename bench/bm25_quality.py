"""BM25's keyword ranking on a real evaluation set, both ways a scope is searched.

On an organization ``manage.py evaluate --keep`` left (its chunks indexed by the
product), the keyword nDCG@10 (documents, as ``manage.py evaluate`` scores them) of
``bm25_ranking`` reading the readable chunks each question (a scope of at most
``BM25_EXACT_MAX_CHUNKS``) and keeping them (a larger one, forced here), and how many
questions have the same top 10 both ways. A change of the postings' layout or the
scoring shows here against an earlier run on the same organization.

    OPAA_DATA_DIR=/tmp/opaa-x .venv/bin/python manage.py evaluate --dataset DIR --keep ...
    OPAA_DATA_DIR=/tmp/opaa-x .venv/bin/python bench/bm25_quality.py \\
        --dataset DIR --organization eval-1234abcd [--limit-corpus N]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from common import django_setup

LIMIT = 100  # as manage.py evaluate ranks (its CHUNK_DEPTH)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--organization", required=True, help="slug of the kept organization")
    parser.add_argument("--limit-corpus", type=int)
    args = parser.parse_args()
    django_setup("bm25-quality")

    from django.core.cache import cache
    from django_tenants.utils import schema_context

    import ingestion.index as index
    from ingestion.models import Chunk
    from opaa.evaluation import dataset_limit, dataset_load, documents_from_chunks, ndcg_at_k
    from opaa.evaluation.run import corpus_found
    from opaa.evaluation.scoring import TOP_DOCUMENTS
    from tenants.models import Organization
    from workspaces.models import Workspace
    from workspaces.readers import ReaderScope
    from workspaces.rls import organization_scope

    dataset = dataset_limit(dataset_load(path=args.dataset), corpus_limit=args.limit_corpus)
    organization = Organization.objects.get(slug=args.organization)
    with schema_context(organization.schema_name), organization_scope():
        ids = [Workspace.objects.filter(is_default=True).values_list("pk", flat=True).get()]
        readers = ReaderScope.everything(ids)
        document_ids = corpus_found(corpus=dataset.corpus)
        chunk_documents = {
            chunk_id: document_ids.get(document_id, [])
            for chunk_id, document_id in Chunk.objects.values_list("id", "document_id")
        }
        indexed = {c for corpus_ids in chunk_documents.values() for c in corpus_ids}
        qrels = {
            query_id: {c: v for c, v in judged.items() if c in indexed}
            for query_id, judged in dataset.qrels.items()
        }
        queries = [(q, text) for q, text in dataset.queries.items() if qrels[q]]

        def ranked(text):
            return index.bm25_ranking(text, workspace_ids=ids, readers=readers, limit=LIMIT)

        def ndcg(ranking, query_id):
            documents = documents_from_chunks(
                ranking, chunk_documents=chunk_documents, limit=TOP_DOCUMENTS
            )
            return ndcg_at_k(documents, qrels[query_id], 10)

        saved = index.BM25_EXACT_MAX_CHUNKS
        try:
            index.BM25_EXACT_MAX_CHUNKS = 10**12
            read = {q: ranked(text) for q, text in queries}
            index.BM25_EXACT_MAX_CHUNKS = 0
            cache.clear()
            index._KEPT.clear()
            kept = {q: ranked(text) for q, text in queries}
        finally:
            index.BM25_EXACT_MAX_CHUNKS = saved
        same = sum(
            [r.chunk_id for r in kept[q][:10]] == [r.chunk_id for r in read[q][:10]]
            for q, _ in queries
        )
        print(f"{args.organization}: {len(chunk_documents):,} chunks, {len(queries)} questions")
        print("| keyword ranking | nDCG@10 | same top 10 as read each question |")
        print("|---|--:|--:|")
        for name, rankings in (("readable read each question", read), ("readable kept", kept)):
            score = statistics.mean(ndcg(rankings[q], q) for q, _ in queries)
            shown = "-" if rankings is read else f"{same} of {len(queries)}"
            print(f"| {name} | {score:.4f} | {shown} |")


if __name__ == "__main__":
    main()
