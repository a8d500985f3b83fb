"""Dump each query's keyword and vector rankings, with scores, from a kept evaluation
organization, so that fusion can be studied offline (``bench/fusion_offline.py``).

    OPAA_DATA_DIR=/tmp/opaa-x .venv/bin/python manage.py evaluate --dataset DIR --keep ...
    OPAA_DATA_DIR=/tmp/opaa-x .venv/bin/python bench/fusion_dump.py \\
        --dataset DIR --organization eval-1234abcd --out /tmp/set.dump.json [--limit-corpus N]

Ranks every judged query as ``hybrid_search`` does (both rankers, ``CANDIDATES_PER_RANKER``
chunks each) and writes one JSON file: the chunk -> corpus ids map (rebuilt from the
upload names ``manage.py evaluate`` gives, identical entries sharing one document), and
per query its text, category, judgements, both rankings with their scores, the
question's BM25 terms with their document frequencies (and the collection's size), and
which of those terms each ranked chunk contains.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import django_setup

TERMS_SQL = """
    WITH languages AS (
        SELECT DISTINCT d.language::regconfig AS cfg FROM ingestion_document AS d
         WHERE d.workspace_id = ANY(%(ws)s) AND d.status = 'indexed'
    ),
    words AS (
        SELECT languages.cfg, t.lexeme, w.position
          FROM languages, unnest(to_tsvector(languages.cfg, %(text)s)) AS t,
               unnest(t.positions) AS w(position)
    ),
    query AS (
        SELECT DISTINCT words.lexeme FROM words
         WHERE words.position IN (
                   SELECT kept.position FROM words AS kept GROUP BY kept.position
                   HAVING count(DISTINCT kept.cfg) = (SELECT count(*) FROM languages))
    )
    SELECT q.lexeme,
           (SELECT coalesce(sum(l.postings), 0) FROM ingestion_posting_list AS l
             WHERE l.workspace_id = ANY(%(ws)s) AND l.lexeme = q.lexeme) AS df
      FROM query AS q
"""


def _terms(connection, text, ids, keyword, dense):
    """The question's terms {lexeme: df}, N, and per ranked chunk the terms it holds."""
    chunk_ids = sorted({r.chunk_id for r in [*keyword, *dense]})
    with connection.cursor() as cursor:
        cursor.execute(TERMS_SQL, {"ws": ids, "text": text})
        terms = dict(cursor.fetchall())
        cursor.execute("SELECT count(*) FROM ingestion_chunk WHERE workspace_id = ANY(%s)", [ids])
        n = cursor.fetchone()[0]
        cursor.execute(
            "SELECT c.id, ARRAY(SELECT unnest(tsvector_to_array(c.search_vector))"
            " INTERSECT SELECT unnest(%s::text[])) FROM ingestion_chunk AS c"
            " WHERE c.id = ANY(%s)",
            [list(terms), chunk_ids],
        )
        matched = {str(chunk_id): lexemes for chunk_id, lexemes in cursor.fetchall() if lexemes}
    return {"n": n, "df": terms}, matched


def _keyword_reindex() -> None:
    """Each document's language, search words and postings written again, as
    ``ingestion.indexing.document_index`` writes them (its vectors are kept)."""
    from django.db import transaction

    from ingestion.index import postings_write, search_vector_write
    from ingestion.language import detect_language
    from ingestion.models import Chunk, Document, PostingList

    # A chunk's words change only with a new chunk in the product; here the same chunks
    # get new words, so their postings are written again from nothing.
    PostingList.objects.all().delete()
    for document in Document.objects.filter(status="indexed").only("id", "language"):
        texts = Chunk.objects.filter(document=document).order_by("ordinal")
        language = detect_language("\n".join(texts.values_list("text", flat=True)))
        with transaction.atomic():
            if language != document.language:
                Document.objects.filter(pk=document.pk).update(language=language)
            search_vector_write(document_id=document.pk)
            postings_write(document_id=document.pk)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--organization", required=True, help="slug of the kept organization")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--limit-corpus", type=int)
    parser.add_argument(
        "--reindex-keyword",
        action="store_true",
        help="first rewrite every document's language, words and postings with this "
        "code (what re-indexing does, without parsing and embedding again)",
    )
    args = parser.parse_args()
    django_setup("fusion-dump")

    from django.db import connection
    from django.db.models import Count
    from django_tenants.utils import schema_context

    from ingestion.embedding import embed_texts
    from ingestion.models import Chunk, Document
    from opaa.evaluation import dataset_limit, dataset_load
    from opaa.evaluation.run import corpus_found
    from search.retrieval import CANDIDATES_PER_RANKER, keyword_ranking, vector_ranking
    from tenants.models import Organization
    from workspaces.models import Workspace
    from workspaces.readers import ReaderScope
    from workspaces.rls import organization_scope

    dataset = dataset_limit(dataset_load(path=args.dataset), corpus_limit=args.limit_corpus)
    organization = Organization.objects.get(slug=args.organization)
    with schema_context(organization.schema_name), organization_scope():
        # Only the id: the run's organization may predate columns added since.
        ids = [Workspace.objects.filter(is_default=True).values_list("pk", flat=True).get()]
        readers = ReaderScope.everything(ids)
        if args.reindex_keyword:
            _keyword_reindex()
        languages = dict(
            Document.objects.values_list("language").annotate(n=Count("id")).order_by()
        )
        print(f"document languages: {languages}")
        # Each corpus id's document, found by the name the kept run uploaded it under.
        document_ids = corpus_found(corpus=dataset.corpus)
        chunk_documents = {
            chunk_id: document_ids.get(document_id, [])
            for chunk_id, document_id in Chunk.objects.values_list("id", "document_id")
        }
        queries = []
        # A partly indexed corpus (a run stopped early) is a smaller corpus: the questions
        # with at least one judged document indexed, judged on those.
        indexed_now = {c for ids in chunk_documents.values() for c in ids}
        qrels = {
            query_id: {c: v for c, v in judged.items() if c in indexed_now}
            for query_id, judged in dataset.qrels.items()
        }
        texts = [(query_id, text) for query_id, text in dataset.queries.items() if qrels[query_id]]
        vectors = embed_texts([text for _, text in texts])
        for (query_id, text), vector in zip(texts, vectors, strict=True):
            keyword = keyword_ranking(
                text, workspace_ids=ids, readers=readers, limit=CANDIDATES_PER_RANKER
            )
            dense = vector_ranking(
                vector, workspace_ids=ids, readers=readers, limit=CANDIDATES_PER_RANKER
            )
            terms, matched = _terms(connection, text, ids, keyword, dense)
            queries.append(
                {
                    "id": query_id,
                    "text": text,
                    "category": dataset.category(query_id),
                    "qrels": qrels[query_id],
                    "keyword": [[r.chunk_id, r.score] for r in keyword],
                    "vector": [[r.chunk_id, r.score] for r in dense],
                    "terms": terms,
                    "matched": matched,
                }
            )
    args.out.write_text(json.dumps({"chunk_documents": chunk_documents, "queries": queries}) + "\n")
    print(f"{len(queries)} queries, {len(chunk_documents)} chunks -> {args.out}")


if __name__ == "__main__":
    main()
