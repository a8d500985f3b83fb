from django.db import migrations

# Chunks written before chunks carried readers get their document's.
COPY = """
    UPDATE ingestion_chunk AS c
       SET readers = d.readers
      FROM ingestion_document AS d
     WHERE d.id = c.document_id AND c.readers IS DISTINCT FROM d.readers
"""


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0005_chunk_readers"),
    ]

    operations = [
        # Reversing needs nothing: 0005's reversal drops the column.
        migrations.RunSQL(COPY, reverse_sql=migrations.RunSQL.noop),
    ]
