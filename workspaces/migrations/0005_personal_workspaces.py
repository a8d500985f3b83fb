# Every member who is there already gets their personal workspace, "My Documents"
# (workspaces.personal); members who come later get theirs on their first portal page.
from django.db import migrations
from django_tenants.utils import get_public_schema_name

NAME = "My Documents"


def forward(apps, schema_editor):
    if schema_editor.connection.schema_name == get_public_schema_name():
        return
    from workspaces.rls import organization_scope

    User = apps.get_model("accounts", "User")
    Workspace = apps.get_model("workspaces", "Workspace")
    Membership = apps.get_model("workspaces", "Membership")
    with organization_scope():
        people = User.objects.filter(is_active=True, is_service_account=False).exclude(
            pk__in=Workspace.objects.filter(personal_of__isnull=False).values("personal_of")
        )
        for user in people:
            slug = f"personal-{user.pk}"
            if Workspace.objects.filter(slug=slug).exists():
                slug = f"{slug}-m"
            workspace = Workspace.objects.create(name=NAME, slug=slug, personal_of=user)
            Membership.objects.create(workspace=workspace, user=user, role="admin")


def backward(apps, schema_editor):
    if schema_editor.connection.schema_name == get_public_schema_name():
        return
    from workspaces.rls import organization_scope

    Workspace = apps.get_model("workspaces", "Workspace")
    with organization_scope():
        # Only empty ones: a personal workspace holding documents is kept.
        for workspace in Workspace.objects.filter(personal_of__isnull=False):
            if (
                not apps.get_model("ingestion", "Document")
                .objects.filter(workspace=workspace)
                .exists()
            ):
                workspace.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("workspaces", "0004_workspace_personal_of"),
        ("accounts", "0005_alter_apitoken_scopes"),
        ("ingestion", "0014_document_share"),
    ]

    operations = [migrations.RunPython(forward, backward)]
