from django.apps import AppConfig
from django.db.models.signals import post_migrate


class WorkspacesConfig(AppConfig):
    name = "workspaces"
    verbose_name = "Workspaces"

    def ready(self) -> None:
        from workspaces.rls import checks  # noqa: F401 - registers the database roles check
        from workspaces.rls.policies import secure_after_migrate

        # Row-level security policies and grants for every schema that was migrated.
        post_migrate.connect(secure_after_migrate, sender=self, dispatch_uid="rls_secure")
