"""URLs of an organization's site (``acme.localhost``): portal, API, admin, health."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from ingestion import api as ingestion_api
from opaa import health
from search import api as search_api

api_v1 = [
    path("documents", ingestion_api.DocumentListView.as_view(), name="documents"),
    path("documents/<int:pk>", ingestion_api.DocumentDetailView.as_view(), name="document"),
    path("ask", search_api.AskView.as_view(), name="ask"),
    path("search", search_api.SearchView.as_view(), name="search"),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="search:ask"), name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("accounts/", include("accounts.urls")),
    path("documents/", include("ingestion.urls")),
    path("ask/", include("search.urls")),
    path("api/v1/", include((api_v1, "api"))),
    path("admin/", admin.site.urls),
]
