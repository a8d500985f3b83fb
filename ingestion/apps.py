from django.apps import AppConfig


class IngestionConfig(AppConfig):
    name = "ingestion"
    verbose_name = "Ingestion"

    def ready(self) -> None:
        from ingestion.erasure import workspace_documents_erase
        from workspaces.services import workspace_content_eraser_register

        # Deleting a workspace erases its documents first: rows, chunks, originals,
        # titles in audit events, and what the documents-erasure hooks remove.
        workspace_content_eraser_register(workspace_documents_erase)
