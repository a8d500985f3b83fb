from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_delete, post_migrate, post_save


class WorkspacesConfig(AppConfig):
    name = "workspaces"
    verbose_name = "Workspaces"

    def ready(self) -> None:
        from workspaces.models import Workspace
        from workspaces.personal import personal_workspace_on_login
        from workspaces.rls import checks  # noqa: F401 - registers the database roles check
        from workspaces.rls.policies import secure_after_migrate
        from workspaces.rls.scope import workspace_list_changed

        # Row-level security policies and grants for every schema that was migrated.
        post_migrate.connect(secure_after_migrate, sender=self, dispatch_uid="rls_secure")
        # Every member's "My Documents" is there when they sign in.
        user_logged_in.connect(personal_workspace_on_login, dispatch_uid="personal_workspace")
        # Organization-wide work lists the workspaces once per transaction: again once
        # one was created or deleted in it.
        for signal in (post_save, post_delete):
            signal.connect(workspace_list_changed, sender=Workspace, dispatch_uid="rls_list")
