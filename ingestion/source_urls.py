from django.urls import path

from ingestion import source_setup_views, source_views

app_name = "sources"

urlpatterns = [
    path("", source_views.source_list, name="list"),
    path("status", source_views.source_status, name="status"),
    path("new", source_setup_views.source_new, name="new"),
    path("reindex", source_views.workspace_reindex, name="reindex"),
    path("<int:pk>/", source_views.source_detail, name="detail"),
    path("<int:pk>/sync", source_views.source_sync, name="sync"),
    path("<int:pk>/toggle", source_views.source_toggle, name="toggle"),
    path("<int:pk>/delete", source_views.source_delete, name="delete"),
    path("<int:pk>/edit", source_views.source_edit, name="edit"),
    path("documents/<int:pk>/retry", source_views.document_retry, name="retry"),
]
