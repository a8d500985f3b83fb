# Postings as lists (issue 17; docs/scaling.md, "Keyword side"): one row per word,
# workspace and segment of 2,048 chunk ids, holding that range's postings packed (ids,
# term frequencies, chunk lengths), instead of one row per (chunk, word). BM25 fetches a
# question's words' rows and scores them in numpy (ingestion.index): at a million chunks
# 29-31 / 50-64 ms p50 / p95 instead of 221-289 / 859-947 ms, in 2.8 kB per chunk
# instead of 10.2 (bench/RESULTS.md).
#
# 1. The table, filled from search_posting (a chunk's length from the chunk), which is
#    then dropped. On a large organization the fill takes minutes (about 10 minutes at
#    1M chunks on a busy 2-core machine): run the upgrade in a maintenance window.
# 2. A statement trigger on ingestion_chunk: deleting chunks removes their postings from
#    the rows of their words (from their search_vector), and drops rows left empty, in
#    the same statement, under the workspace's posting lock (as postings_write appends).
#    So no word of a deleted or erased chunk stays in the index, however the chunks go
#    (a document's delete, its re-indexing, a workspace's delete, erasure), as the ON
#    DELETE CASCADE of search_posting did.
# 3. ``chunk_workspace_restricted``: the chunks with readers, for BM25's readable chunks
#    of a large scope (ingestion.index._readable).
import django.db.models.deletion
from django.db import migrations, models

SEGMENT_BITS = 11  # ingestion.index.POSTING_SEGMENT_BITS when written

FILL = f"""
DO $$
DECLARE
    forced_chunk boolean;
BEGIN
    -- The owner running migrations sees rows only without FORCE ROW LEVEL SECURITY
    -- (search_posting is dropped below, with its setting).
    SELECT relforcerowsecurity INTO forced_chunk FROM pg_class
     WHERE oid = 'ingestion_chunk'::regclass;
    ALTER TABLE search_posting NO FORCE ROW LEVEL SECURITY;
    ALTER TABLE ingestion_chunk NO FORCE ROW LEVEL SECURITY;
    INSERT INTO ingestion_posting_list
           (workspace_id, lexeme, segment, postings, chunk_ids, tfs, lengths)
    SELECT p.workspace_id, p.lexeme, (p.chunk_id >> {SEGMENT_BITS})::integer, count(*),
           string_agg(int8send(p.chunk_id), ''::bytea ORDER BY p.chunk_id),
           string_agg(int2send(LEAST(p.tf, 32767)::smallint), ''::bytea ORDER BY p.chunk_id),
           string_agg(int2send(LEAST(c.lexeme_count, 32767)::smallint), ''::bytea
                      ORDER BY p.chunk_id)
      FROM search_posting AS p
      JOIN ingestion_chunk AS c ON c.id = p.chunk_id
  GROUP BY 1, 2, 3;
    IF forced_chunk THEN
        ALTER TABLE ingestion_chunk FORCE ROW LEVEL SECURITY;
    END IF;
END
$$;
"""  # noqa: S608 - a module constant

FORGET = f"""
-- The row's packed postings without those of the chunks ``dead`` (packed 8-byte ids):
-- each found with position() (a byte search) at an 8-byte boundary, and cut out of the
-- three arrays. A row holds up to a few thousand postings, a document a few of them.
CREATE FUNCTION ingestion_posting_list_without(
    ids bytea, tfs bytea, lengths bytea, dead bytea[],
    OUT kept_ids bytea, OUT kept_tfs bytea, OUT kept_lengths bytea, OUT removed integer)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    id bytea;
    start integer;
    at integer;
    k integer;
BEGIN
    kept_ids := ids;
    kept_tfs := tfs;
    kept_lengths := lengths;
    removed := 0;
    FOREACH id IN ARRAY dead LOOP
        start := 1;
        LOOP
            at := position(id IN substring(kept_ids FROM start));
            EXIT WHEN at = 0;
            at := start + at - 1;
            IF (at - 1) % 8 = 0 THEN
                k := (at - 1) / 8;
                kept_ids := substring(kept_ids FROM 1 FOR 8 * k)
                         || substring(kept_ids FROM 8 * k + 9);
                kept_tfs := substring(kept_tfs FROM 1 FOR 2 * k)
                         || substring(kept_tfs FROM 2 * k + 3);
                kept_lengths := substring(kept_lengths FROM 1 FOR 2 * k)
                             || substring(kept_lengths FROM 2 * k + 3);
                removed := removed + 1;
                EXIT;
            END IF;
            start := at + 1;
        END LOOP;
    END LOOP;
END
$$;
CREATE FUNCTION ingestion_posting_list_forget() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    emptied_workspaces bigint[];
    emptied_lexemes text[];
    emptied_segments integer[];
BEGIN
    -- The workspaces' posting lock (ingestion.index.postings_write), in id order.
    PERFORM pg_advisory_xact_lock(hashtextextended(current_schema() || ':postings:' || w.id, 0))
       FROM (SELECT DISTINCT g.workspace_id AS id FROM gone AS g ORDER BY 1) AS w;
    -- Each word's row for the deleted chunks' segment, rewritten without their
    -- postings; those left empty dropped (by key: a scan of the workspace's rows
    -- would cost half a second at 500k chunks).
    WITH dead AS (
        SELECT g.workspace_id, t.lexeme, (g.id >> {SEGMENT_BITS})::integer AS segment,
               array_agg(int8send(g.id)) AS ids
          FROM gone AS g, unnest(g.search_vector) AS t
      GROUP BY 1, 2, 3
    ),
    rewritten AS (
        UPDATE ingestion_posting_list AS l
           SET (chunk_ids, tfs, lengths, postings) = (
                   SELECT w.kept_ids, w.kept_tfs, w.kept_lengths, l.postings - w.removed
                     FROM ingestion_posting_list_without(l.chunk_ids, l.tfs, l.lengths, dead.ids)
                          AS w)
          FROM dead
         WHERE l.workspace_id = dead.workspace_id AND l.lexeme = dead.lexeme
           AND l.segment = dead.segment
     RETURNING l.workspace_id, l.lexeme, l.segment, l.postings
    )
    SELECT array_agg(r.workspace_id), array_agg(r.lexeme), array_agg(r.segment)
      INTO emptied_workspaces, emptied_lexemes, emptied_segments
      FROM rewritten AS r WHERE r.postings = 0;
    DELETE FROM ingestion_posting_list AS l
     USING unnest(emptied_workspaces, emptied_lexemes, emptied_segments) AS e(w, x, s)
     WHERE l.workspace_id = e.w AND l.lexeme = e.x AND l.segment = e.s;
    RETURN NULL;
END
$$;
CREATE TRIGGER ingestion_chunk_postings_forget
    AFTER DELETE ON ingestion_chunk
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION ingestion_posting_list_forget();
"""  # noqa: S608 - a module constant

UNFORGET = """
DROP TRIGGER IF EXISTS ingestion_chunk_postings_forget ON ingestion_chunk;
DROP FUNCTION IF EXISTS ingestion_posting_list_forget();
DROP FUNCTION IF EXISTS ingestion_posting_list_without(bytea, bytea, bytea, bytea[]);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0017_chunk_workspace_bm25_state"),
        ("workspaces", "0005_personal_workspaces"),
    ]

    operations = [
        migrations.CreateModel(
            name="PostingList",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "workspace",
                        "lexeme",
                        "segment",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("lexeme", models.TextField()),
                ("segment", models.IntegerField()),
                ("postings", models.IntegerField()),
                ("chunk_ids", models.BinaryField()),
                ("tfs", models.BinaryField()),
                ("lengths", models.BinaryField()),
                (
                    "workspace",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="workspaces.workspace",
                    ),
                ),
            ],
            options={"db_table": "ingestion_posting_list"},
        ),
        # Stored out of line uncompressed: packed ids hardly compress, and a question
        # then reads a long list without decompressing it.
        migrations.RunSQL(
            "ALTER TABLE ingestion_posting_list ALTER chunk_ids SET STORAGE EXTERNAL,"
            " ALTER tfs SET STORAGE EXTERNAL, ALTER lengths SET STORAGE EXTERNAL",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.RunSQL(FILL, reverse_sql=migrations.RunSQL.noop),
        migrations.RunSQL(FORGET, reverse_sql=UNFORGET),
        migrations.DeleteModel(name="Posting"),
        migrations.AddIndex(
            model_name="chunk",
            index=models.Index(
                condition=models.Q(("readers", []), _negated=True),
                fields=["workspace", "id"],
                include=("readers", "document"),
                name="chunk_workspace_restricted",
            ),
        ),
    ]
