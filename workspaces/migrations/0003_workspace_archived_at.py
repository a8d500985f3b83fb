from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("workspaces", "0002_groups"),
    ]

    operations = [
        migrations.AddField(
            model_name="workspace",
            name="archived_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
