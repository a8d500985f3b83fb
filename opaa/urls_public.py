"""URLs of the public schema: health checks and the platform operators' admin."""

from django.contrib import admin
from django.urls import path

from opaa import health
from tenants import views as tenants_views

urlpatterns = [
    path("", tenants_views.platform_home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("signup/", tenants_views.signup_view, name="signup"),
    path("signup/verify/<str:token>", tenants_views.signup_verify_view, name="signup-verify"),
]
