from django.urls import path

from sso import views

app_name = "sso"

urlpatterns = [
    path("login/", views.SignInStartView.as_view(), name="login"),
    path("callback/", views.SignInCallbackView.as_view(), name="callback"),
    path("settings/", views.provider_settings, name="settings"),
]
