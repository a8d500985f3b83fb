from django.apps import AppConfig


class IngestionConfig(AppConfig):
    name = "ingestion"
    verbose_name = "Ingestion"

    def ready(self) -> None:
        from ingestion import usage
        from ingestion.erasure import workspace_documents_erase
        from ingestion.sharing import POLICIES, shares_effective
        from tenants.usage import activity_counter_register, level_counter_register
        from workspaces.readers import shared_documents_register
        from workspaces.rls.policies import extra_policy_register
        from workspaces.services import workspace_content_eraser_register

        # Documents shared into a workspace: searched there (every reader scope lists
        # them) and readable there by the database (docs/sharing.md).
        shared_documents_register(shares_effective)
        for policy in POLICIES:
            extra_policy_register(policy)

        # Deleting a workspace erases its documents first: rows, chunks, originals,
        # titles in audit events, and what the documents-erasure hooks remove.
        workspace_content_eraser_register(workspace_documents_erase)
        # The organization's usage of ingestion, counted for plan limits and metering.
        level_counter_register("documents", usage.documents_count)
        level_counter_register("storage_bytes", usage.storage_bytes)
        level_counter_register("sources", usage.sources_count)
        activity_counter_register(usage.activity_of)
