from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "search"
    verbose_name = "Search and answers"

    def ready(self) -> None:
        from ingestion.erasure import documents_erasure_register
        from search.erasure import AnswersErasure

        # Erasing documents replaces the answers that cited them and deletes the cached
        # answers of their workspaces (ingestion offers the hook; it never imports search).
        documents_erasure_register(AnswersErasure())
