"""Seed the plans. Existing organizations keep no plan, which means no limits."""

from django.db import migrations

GB = 1024**3
MB = 1024**2

PLANS = [
    # code, name, default, members, documents, storage, questions/day, tokens/month, sources, upload
    ("free", "Free", True, 5, 500, 1 * GB, 100, 200_000, 2, 20 * MB),
    ("team", "Team", False, 50, 20_000, 50 * GB, 2_000, 5_000_000, 20, 100 * MB),
    ("enterprise", "Enterprise", False, None, None, None, None, None, None, 500 * MB),
]


def seed(apps, schema_editor):
    Plan = apps.get_model("tenants", "Plan")
    for code, name, default, members, docs, storage, qpd, tokens, sources, upload in PLANS:
        Plan.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "is_default": default,
                "members": members,
                "documents": docs,
                "storage_bytes": storage,
                "questions_per_day": qpd,
                "llm_tokens_per_month": tokens,
                "sources": sources,
                "max_upload_bytes": upload,
            },
        )


def unseed(apps, schema_editor):
    Organization = apps.get_model("tenants", "Organization")
    Plan = apps.get_model("tenants", "Plan")
    Organization.objects.update(plan=None)
    Plan.objects.filter(code__in=[p[0] for p in PLANS]).delete()


class Migration(migrations.Migration):
    dependencies = [("tenants", "0002_plans_status_usage")]

    operations = [migrations.RunPython(seed, unseed)]
