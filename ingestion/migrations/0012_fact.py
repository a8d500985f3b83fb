# The facts table (ingestion.models.Fact): attribute/value pairs read from documents at
# indexing time (ingestion.facts). Row-level security comes from its workspace_id column
# (workspaces.rls.policies, applied after migrate).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0011_chunk_embedding_inline_bm25_covering"),
        ("workspaces", "0002_groups"),
    ]

    operations = [
        migrations.CreateModel(
            name="Fact",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("entity", models.CharField(max_length=300)),
                ("attribute", models.CharField(max_length=100)),
                ("label", models.CharField(max_length=200)),
                ("value_text", models.CharField(max_length=500)),
                ("kind", models.CharField(max_length=16)),
                ("number", models.FloatField(blank=True, null=True)),
                ("unit", models.CharField(blank=True, max_length=16)),
                ("date", models.DateField(blank=True, null=True)),
                (
                    "chunk",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="ingestion.chunk",
                    ),
                ),
                (
                    "document",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="ingestion.document",
                    ),
                ),
                (
                    "workspace",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="workspaces.workspace",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["workspace", "attribute", "number"], name="fact_workspace_attribute"
                    ),
                    models.Index(fields=["document"], name="fact_document"),
                    models.Index(fields=["chunk"], name="fact_chunk"),
                ],
            },
        ),
        # Facts go with their chunk and document inside the database, so bulk deletes of
        # chunks (every re-index) and documents (erasure) never load facts into Python.
        migrations.RunSQL(
            sql=[
                "ALTER TABLE ingestion_fact ADD CONSTRAINT ingestion_fact_chunk_fk "
                "FOREIGN KEY (chunk_id) REFERENCES ingestion_chunk (id) "
                "ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED",
                "ALTER TABLE ingestion_fact ADD CONSTRAINT ingestion_fact_document_fk "
                "FOREIGN KEY (document_id) REFERENCES ingestion_document (id) "
                "ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED",
            ],
            reverse_sql=[
                "ALTER TABLE ingestion_fact DROP CONSTRAINT ingestion_fact_chunk_fk",
                "ALTER TABLE ingestion_fact DROP CONSTRAINT ingestion_fact_document_fk",
            ],
        ),
    ]
