"""URLs of the public schema: health checks and the platform operators' admin."""

from django.contrib import admin
from django.urls import path
from django.views.generic import TemplateView

from opaa import health

urlpatterns = [
    path("", TemplateView.as_view(template_name="public/home.html"), name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
]
