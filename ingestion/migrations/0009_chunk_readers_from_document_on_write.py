from django.db import migrations

# A chunk's readers are its document's, whoever writes the chunk and whenever.
#
# Migration 0007 copies a document's readers to its chunks when the readers change;
# but indexing loads the document, embeds for seconds or minutes, then inserts the
# chunks with the readers it loaded. Readers set in between were lost: the document
# answered 404 while its passages were found by everyone in the workspace. Now the
# database fills ``readers`` on every insert of a chunk (and on any update of a
# chunk's readers or document) from the document row, read under FOR SHARE: a
# transaction changing the document's readers holds the row, so the insert waits for
# it to commit and then reads the new readers; a change that starts after the
# insert waits for the indexing transaction, and 0007's trigger then updates the
# committed chunks. No order of the two leaves chunks with stale readers, and no
# code path can write chunks with readers of its own.
FORWARD = """
CREATE FUNCTION ingestion_chunk_readers_from_document() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    document_readers varchar(320)[];
BEGIN
    SELECT d.readers INTO document_readers
      FROM ingestion_document AS d
     WHERE d.id = NEW.document_id
       FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'chunk of document % written, but that document does not exist',
            NEW.document_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    NEW.readers := document_readers;
    RETURN NEW;
END;
$$;
CREATE TRIGGER ingestion_chunk_readers_from_document
    BEFORE INSERT OR UPDATE OF readers, document_id ON ingestion_chunk
    FOR EACH ROW EXECUTE FUNCTION ingestion_chunk_readers_from_document();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS ingestion_chunk_readers_from_document ON ingestion_chunk;
DROP FUNCTION IF EXISTS ingestion_chunk_readers_from_document();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0008_document_metadata_chunk_content_sha256"),
    ]

    operations = [migrations.RunSQL(FORWARD, reverse_sql=BACKWARD)]
