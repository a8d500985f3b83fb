import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_auditevent_append_only"),
    ]

    operations = [
        migrations.CreateModel(
            name="AccessSettings",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "singleton",
                    models.PositiveSmallIntegerField(default=1, editable=False, unique=True),
                ),
                (
                    "token_max_days",
                    models.PositiveIntegerField(
                        blank=True,
                        help_text="The longest expiry a new API token may have. Empty: the "
                        "installation's TOKEN_MAX_DAYS. Tokens made earlier keep their expiry.",
                        null=True,
                        validators=[
                            django.core.validators.MinValueValidator(1),
                            django.core.validators.MaxValueValidator(3650),
                        ],
                        verbose_name="maximum token lifetime (days)",
                    ),
                ),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "verbose_name": "access settings",
                "verbose_name_plural": "access settings",
            },
        ),
    ]
