from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "search"
    verbose_name = "Search and answers"

    def ready(self) -> None:
        from ingestion.erasure import documents_erasure_register
        from search import usage
        from search.erasure import AnswersErasure
        from tenants.usage import activity_counter_register

        # Erasing documents replaces the answers that cited them and deletes the cached
        # answers of their workspaces (ingestion offers the hook; it never imports search).
        documents_erasure_register(AnswersErasure())
        # Questions and LLM tokens, counted for metering.
        activity_counter_register(usage.activity_of)
