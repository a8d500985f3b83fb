# Retrieval at scale (issue 17; bench/retrieval_scale.py, docs/scaling.md).
#
# 1. A chunk's vector is kept in its row (STORAGE MAIN) instead of out of line in the
#    TOAST table (pgvector's default, EXTERNAL): the exact vector search, used for
#    workspaces of up to VECTOR_EXACT_MAX_CHUNKS chunks and as the fallback of the HNSW
#    search, reads every vector in scope, and a TOASTed vector costs an index lookup
#    and a second page each. The row's text and words (EXTENDED) go out of line
#    instead when the row is too long. Only rows written from now on are affected: a
#    document's chunks move when it is next indexed (chunks are replaced, never
#    updated in place).
# 2. ``chunk_workspace_bm25``: BM25 reads the readable chunks of the workspaces
#    searched (id, length, readers) for the collection's statistics and to join the
#    postings of the question's words; with this covering index that is an index-only
#    scan, not a visit to each (wide) chunk row.
#
# Both are plain SQL, outside Django's model state: the index is not declared in
# ``Chunk.Meta.indexes`` (so ``makemigrations`` has nothing to write for it).
from django.db import migrations

FORWARD = """
ALTER TABLE ingestion_chunk ALTER COLUMN embedding SET STORAGE MAIN;
CREATE INDEX IF NOT EXISTS chunk_workspace_bm25
    ON ingestion_chunk (workspace_id, id) INCLUDE (lexeme_count, readers);
"""
BACKWARD = """
DROP INDEX IF EXISTS chunk_workspace_bm25;
ALTER TABLE ingestion_chunk ALTER COLUMN embedding SET STORAGE EXTERNAL;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0010_posting"),
    ]

    operations = [migrations.RunSQL(FORWARD, reverse_sql=BACKWARD)]
