from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import language
from accounts import views as account_views
from sso import views as sso_views

app_name = "accounts"

urlpatterns = [
    # Sign-in (password + SSO button, attempts rate-limited) and password reset: sso app.
    path("login/", sso_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", sso_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="sso/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        sso_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="sso/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
    # The account menu's language switch (German / English / as the browser).
    path("language/", language.language_set, name="language"),
    # API tokens and the audit log.
    path("tokens/", account_views.token_list, name="tokens"),
    path("tokens/<int:pk>/revoke", account_views.token_revoke, name="token-revoke"),
    path("audit/", account_views.audit_list, name="audit"),
    # Workspace members (workspace admins) and the organization's access settings (owner).
    path("members/", account_views.member_list, name="members"),
    path("members/<int:pk>/role", account_views.member_role, name="member-role"),
    path("members/<int:pk>/remove", account_views.member_remove, name="member-remove"),
    path("members/<int:pk>/resend", account_views.invitation_resend, name="invitation-resend"),
    path(
        "members/<int:pk>/withdraw", account_views.invitation_withdraw, name="invitation-withdraw"
    ),
    path("settings/", account_views.access_settings, name="settings"),
]
