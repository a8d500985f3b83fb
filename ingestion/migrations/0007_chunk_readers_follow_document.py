from django.db import migrations

# Chunks carry a copy of their document's readers (retrieval filters by it in SQL).
# Every code path that changes a document's readers (the readers service, a sync that
# sees new source permissions, the admin, a bulk update) must change the chunks in
# the same transaction, or a newly restricted document stays findable until it is
# re-indexed. The database does it, so no path can forget.
FORWARD = """
CREATE FUNCTION ingestion_chunk_readers_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ingestion_chunk SET readers = NEW.readers
     WHERE document_id = NEW.id AND readers IS DISTINCT FROM NEW.readers;
    RETURN NULL;
END;
$$;
CREATE TRIGGER ingestion_document_readers_follow
    AFTER UPDATE OF readers ON ingestion_document
    FOR EACH ROW WHEN (OLD.readers IS DISTINCT FROM NEW.readers)
    EXECUTE FUNCTION ingestion_chunk_readers_follow();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS ingestion_document_readers_follow ON ingestion_document;
DROP FUNCTION IF EXISTS ingestion_chunk_readers_follow();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0006_chunk_readers_from_documents"),
    ]

    operations = [migrations.RunSQL(FORWARD, reverse_sql=BACKWARD)]
