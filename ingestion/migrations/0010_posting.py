# The keyword index's postings move from search to ingestion, which writes them
# (ingestion.index). State only: the table search_posting, its indexes and its
# DEFERRABLE foreign keys (search 0002) stay exactly as they are.

from django.db import migrations, models
from django.db.models.deletion import DO_NOTHING


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0009_chunk_readers_from_document_on_write"),
        # The table exists before ingestion claims it. Never depend on a later search
        # migration here: search 0009 depends on this one.
        ("search", "0002_posting"),
        ("workspaces", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="Posting",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("lexeme", models.TextField()),
                        ("tf", models.PositiveSmallIntegerField()),
                        (
                            "chunk",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=DO_NOTHING,
                                related_name="+",
                                to="ingestion.chunk",
                            ),
                        ),
                        (
                            "workspace",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=DO_NOTHING,
                                related_name="+",
                                to="workspaces.workspace",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "search_posting",
                        "indexes": [
                            models.Index(
                                fields=["workspace", "lexeme"],
                                include=("chunk", "tf"),
                                name="posting_workspace_lexeme",
                            ),
                            models.Index(fields=["chunk"], name="posting_chunk"),
                        ],
                    },
                ),
            ],
        ),
    ]
