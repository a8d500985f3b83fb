"""The analytics pages (``/analytics/``); the API's routes are in ``api_urlpatterns``."""

from django.urls import path

from analytics import api, views

app_name = "analytics"

urlpatterns = [
    path("", views.dashboard_view, name="dashboard"),
    path("export/<slug:chart>.csv", views.export_view, name="export"),
    path("questions/", views.questions_view, name="questions"),
    path("gaps/", views.gaps_view, name="gaps"),
    path("gaps/resolve", views.gap_resolve_view, name="gap-resolve"),
    path("gaps/digest", views.digest_view, name="digest"),
    path("documents/", views.documents_view, name="documents"),
]

# Included in the API's own list (``opaa/urls.py``), so their names are ``api:...``.
api_urlpatterns = [
    path("analytics/series", api.SeriesView.as_view(), name="analytics-series"),
    path("analytics/questions", api.TopQuestionsView.as_view(), name="analytics-questions"),
    path("analytics/gaps", api.GapsView.as_view(), name="analytics-gaps"),
    path("analytics/documents", api.DocumentsView.as_view(), name="analytics-documents"),
]
