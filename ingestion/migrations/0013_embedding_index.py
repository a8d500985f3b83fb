# The organization's embedding model and the move to another one (issue 13, item 2):
# ``EmbeddingIndex`` (one row per organization) and ``Chunk.embedding_next``, where a
# new model's vectors are written in the background until they replace ``embedding``.
#
# The row records the model that made the existing vectors: all-MiniLM-L6-v2 for a local
# installation (the only local model before this migration), else the configured
# endpoint's model. An installation that also changes EMBEDDING_MODEL moves each
# organization to it in the background after this migration.
import pgvector.django.vector
from django.conf import settings
from django.db import migrations, models


def record_active_model(apps, schema_editor):
    if settings.EMBEDDING_PROVIDER == "openai":
        model = f"openai:{settings.EMBEDDING_MODEL}"
    else:
        model = "all-MiniLM-L6-v2"
    EmbeddingIndex = apps.get_model("ingestion", "EmbeddingIndex")
    if not EmbeddingIndex.objects.exists():
        EmbeddingIndex.objects.create(active_model=model)


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0012_fact"),
    ]

    operations = [
        migrations.CreateModel(
            name="EmbeddingIndex",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "chosen_model",
                    models.CharField(
                        blank=True,
                        help_text="Empty: the installation's default. Changing it re-embeds "
                        "every passage in the background; searches use the current model "
                        "until the new vectors are complete.",
                        max_length=200,
                        verbose_name="embedding model",
                    ),
                ),
                ("active_model", models.CharField(editable=False, max_length=200)),
                ("target_model", models.CharField(blank=True, editable=False, max_length=200)),
                ("target_done", models.PositiveIntegerField(default=0, editable=False)),
                ("target_total", models.PositiveIntegerField(default=0, editable=False)),
                ("started_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("switched_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("error", models.TextField(blank=True, editable=False)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "verbose_name": "embedding model",
                "verbose_name_plural": "embedding model",
            },
        ),
        migrations.AddField(
            model_name="chunk",
            name="embedding_next",
            field=pgvector.django.vector.VectorField(blank=True, dimensions=384, null=True),
        ),
        migrations.RunPython(record_active_model, migrations.RunPython.noop),
    ]
