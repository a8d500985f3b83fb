"""The pruned BM25 query against the exhaustive one on a real evaluation set.

Real sets are small (under ``BM25_EXACT_MAX_CHUNKS``, so the product ranks them
exhaustively): this forces the pruned query on them (threshold 0) at several depths,
from one that reads every posting down to a few postings per word, so that its first
pass can prove little and its second (MaxScore) or the exhaustive fallback must do the
rest. Per depth: keyword nDCG@10 (documents, as ``manage.py evaluate`` scores them),
how many questions have the exhaustive query's top 10 (chunks and order), and how many
needed the MaxScore pass or fell back to the exhaustive query.

    OPAA_DATA_DIR=/tmp/opaa-x .venv/bin/python manage.py evaluate --dataset DIR --keep ...
    OPAA_DATA_DIR=/tmp/opaa-x .venv/bin/python bench/bm25_pruned_quality.py \\
        --dataset DIR --organization eval-1234abcd [--limit-corpus N] [--depths 2000,100,20,5]
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
    parser.add_argument("--depths", default="2000,100,20,5")
    args = parser.parse_args()
    django_setup("bm25-pruned-quality")

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

        exhaustive = {q: ranked(text) for q, text in queries}
        print(f"{args.organization}: {len(chunk_documents):,} chunks, {len(queries)} questions")
        print(
            "| keyword ranking | nDCG@10 | identical top 10 | MaxScore pass | exhaustive fallback |"
        )
        print("|---|--:|--:|--:|--:|")
        base = statistics.mean(ndcg(exhaustive[q], q) for q, _ in queries)
        print(f"| exhaustive (the product's query at this size) | {base:.4f} | - | - | - |")
        saved = (
            index.BM25_EXACT_MAX_CHUNKS,
            index.BM25_DEPTH,
            index._bm25_maxscore,
            index._bm25_pruned,
        )
        calls: list[str] = []

        def second_pass(*a, **k):
            calls.append("maxscore")
            return saved[2](*a, **k)

        def first_pass(*a, **k):
            found = saved[3](*a, **k)
            if found is None:
                calls.append("exhaustive")
            return found

        index.BM25_EXACT_MAX_CHUNKS = 0
        index._bm25_maxscore, index._bm25_pruned = second_pass, first_pass
        try:
            for depth in [int(d) for d in args.depths.split(",") if d]:
                index.BM25_DEPTH = depth
                cache.clear()  # the statistics it keeps depend on the depth
                scores, same, maxscore, fallback = [], 0, 0, 0
                for query_id, text in queries:
                    calls.clear()
                    pruned = ranked(text)
                    maxscore += "maxscore" in calls
                    fallback += "exhaustive" in calls
                    scores.append(ndcg(pruned, query_id))
                    same += [r.chunk_id for r in pruned[:10]] == [
                        r.chunk_id for r in exhaustive[query_id][:10]
                    ]
                print(
                    f"| pruned, depth {depth:,} | {statistics.mean(scores):.4f} |"
                    f" {same} of {len(queries)} | {maxscore} | {fallback} |"
                )
        finally:
            (
                index.BM25_EXACT_MAX_CHUNKS,
                index.BM25_DEPTH,
                index._bm25_maxscore,
                index._bm25_pruned,
            ) = saved


if __name__ == "__main__":
    main()
