# Documents shared into other workspaces (ingestion.sharing, docs/sharing.md).
#
# A share and its notices go with their document inside the database (ON DELETE
# CASCADE), whoever's row-level security scope erases the document: the cascade runs
# past the policies, as referential actions do. ``chunk_workspace_bm25`` also covers
# ``document_id`` now: the chunks' policy admits the chunks of documents shared into the
# scope by ``document_id`` (workspaces.rls.policies), and BM25's read of the readable
# chunks stays an index-only scan only if the index holds every column a policy reads.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0013_embedding_index"),
        ("workspaces", "0004_workspace_personal_of"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="DocumentShare",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "document",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="shares",
                        to="ingestion.document",
                    ),
                ),
                (
                    "shared_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "source_workspace",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="workspaces.workspace",
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
                "ordering": ["-created_at"],
            },
        ),
        migrations.CreateModel(
            name="ShareNotice",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("seen_at", models.DateTimeField(blank=True, null=True)),
                (
                    "share",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="ingestion.documentshare",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
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
                "ordering": ["-created_at"],
            },
        ),
        migrations.AddIndex(
            model_name="documentshare",
            index=models.Index(fields=["workspace", "document"], name="share_workspace"),
        ),
        migrations.AddIndex(
            model_name="documentshare",
            index=models.Index(fields=["source_workspace"], name="share_source_workspace"),
        ),
        migrations.AddConstraint(
            model_name="documentshare",
            constraint=models.UniqueConstraint(
                fields=("document", "workspace"), name="document_share_once_per_workspace"
            ),
        ),
        migrations.AddIndex(
            model_name="sharenotice",
            index=models.Index(fields=["user", "workspace"], name="share_notice_user"),
        ),
        migrations.RunSQL(
            sql=[
                "ALTER TABLE ingestion_documentshare ADD CONSTRAINT ingestion_share_document_fk "
                "FOREIGN KEY (document_id) REFERENCES ingestion_document (id) "
                "ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED",
                "ALTER TABLE ingestion_sharenotice ADD CONSTRAINT ingestion_notice_share_fk "
                "FOREIGN KEY (share_id) REFERENCES ingestion_documentshare (id) "
                "ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED",
                "DROP INDEX IF EXISTS chunk_workspace_bm25",
                "CREATE INDEX chunk_workspace_bm25 ON ingestion_chunk (workspace_id, id) "
                "INCLUDE (lexeme_count, readers, document_id)",
            ],
            reverse_sql=[
                "DROP INDEX IF EXISTS chunk_workspace_bm25",
                "CREATE INDEX chunk_workspace_bm25 ON ingestion_chunk (workspace_id, id) "
                "INCLUDE (lexeme_count, readers)",
                "ALTER TABLE ingestion_sharenotice DROP CONSTRAINT ingestion_notice_share_fk",
                "ALTER TABLE ingestion_documentshare DROP CONSTRAINT ingestion_share_document_fk",
            ],
        ),
    ]
