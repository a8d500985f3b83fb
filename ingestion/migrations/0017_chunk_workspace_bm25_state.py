# ``chunk_workspace_bm25`` (BM25's covering index of the readable chunks) was created in
# SQL by migrations 0011 and 0014, outside Django's model state. It is now declared in
# ``Chunk.Meta.indexes``; this migration only tells the state so: the database already
# has the index with exactly this definition, so nothing is run.
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0016_posting_impact_narrow"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name="chunk",
                    index=models.Index(
                        fields=["workspace", "id"],
                        include=("lexeme_count", "readers", "document"),
                        name="chunk_workspace_bm25",
                    ),
                ),
            ],
        ),
    ]
