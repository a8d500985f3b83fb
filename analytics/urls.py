"""The analytics pages (``/analytics/``); the API's routes are in ``api_urlpatterns``."""

from django.urls import path

from analytics import api, views, views_quality

app_name = "analytics"

urlpatterns = [
    path("", views.dashboard_view, name="dashboard"),
    path("export/<slug:chart>.csv", views.export_view, name="export"),
    path("questions/", views.questions_view, name="questions"),
    path("gaps/", views.gaps_view, name="gaps"),
    path("gaps/resolve", views.gap_resolve_view, name="gap-resolve"),
    path("gaps/digest", views.digest_view, name="digest"),
    path("documents/", views.documents_view, name="documents"),
    path("quality/", views_quality.quality_view, name="quality"),
    path("quality/golden", views_quality.golden_add_view, name="golden-add"),
    path("quality/golden/delete", views_quality.golden_delete_view, name="golden-delete"),
    path("quality/golden/adopt", views_quality.golden_adopt_view, name="golden-adopt"),
    path("quality/run", views_quality.golden_run_view, name="golden-run"),
]

# Included in the API's own list (``opaa/urls.py``), so their names are ``api:...``.
api_urlpatterns = [
    path("analytics/series", api.SeriesView.as_view(), name="analytics-series"),
    path("analytics/questions", api.TopQuestionsView.as_view(), name="analytics-questions"),
    path("analytics/gaps", api.GapsView.as_view(), name="analytics-gaps"),
    path("analytics/documents", api.DocumentsView.as_view(), name="analytics-documents"),
    path("analytics/quality", api.QualityView.as_view(), name="analytics-quality"),
]
