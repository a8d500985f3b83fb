# Searchable in seconds (issue 17, item 3): a document's chunks are written with their
# text, words and readers first and found by keyword at once; their vectors follow from
# the embedding queue (``ingestion.embedding_queue``). So ``Chunk.embedding`` may be
# empty (the HNSW index leaves such rows out), the chunks still waiting are found through
# a small partial index, and a document says "searchable" until its last vector is in.
import pgvector.django.vector
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0014_document_share"),
    ]

    operations = [
        migrations.AlterField(
            model_name="chunk",
            name="embedding",
            field=pgvector.django.vector.VectorField(blank=True, dimensions=384, null=True),
        ),
        migrations.AlterField(
            model_name="document",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "Pending"),
                    ("processing", "Processing"),
                    ("searchable", "Searchable, improving"),
                    ("indexed", "Indexed"),
                    ("failed", "Failed"),
                ],
                default="pending",
                max_length=16,
            ),
        ),
        migrations.AddIndex(
            model_name="chunk",
            index=models.Index(
                condition=models.Q(("embedding__isnull", True)),
                fields=["id"],
                name="chunk_embedding_pending",
            ),
        ),
    ]
